//go:build unix

package system

import (
	"os/exec"
	"syscall"
)

// inGroup starts the command in a process group of its own, so that a
// kill reaches the processes the shell starts too.
func inGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// signals are the signal names msg.kill may give.
var signals = map[string]syscall.Signal{
	"SIGTERM": syscall.SIGTERM, "SIGKILL": syscall.SIGKILL, "SIGINT": syscall.SIGINT,
	"SIGHUP": syscall.SIGHUP, "SIGQUIT": syscall.SIGQUIT, "SIGUSR1": syscall.SIGUSR1, "SIGUSR2": syscall.SIGUSR2,
}

// signal sends sig (a name from signals, SIGTERM when unknown) to the
// command's process group.
func signal(cmd *exec.Cmd, sig string) error {
	s, ok := signals[sig]
	if !ok {
		s = syscall.SIGTERM
	}
	return syscall.Kill(-cmd.Process.Pid, s)
}

// signalName names the signal that ended the command, "" if none.
func signalName(st *exec.ExitError) string {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		for name, s := range signals {
			if s == ws.Signal() {
				return name
			}
		}
		return ws.Signal().String()
	}
	return ""
}
