//go:build !unix

package system

import "os/exec"

func inGroup(*exec.Cmd) {}

// signal kills the process: other systems have no signals to choose.
func signal(cmd *exec.Cmd, _ string) error { return cmd.Process.Kill() }

func signalName(*exec.ExitError) string { return "" }
