package cli

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

const passwdUsage = `Usage: runnel passwd [--editor [--role full|read]] [--cost N] NAME

Reads a password and prints a bcrypt hash of it as a configuration block
to paste into the config file: [[broker.users]] for an MQTT user, or
[[editor.users]] with --editor for a user of the editor and admin API.

On a terminal the password is asked for twice and not echoed. Otherwise
the first line of standard input is the password:

  echo "$PASSWORD" | runnel passwd sensor1 >> runnel.toml

Flags:
`

// passwd is the passwd command: it reads a password (from the terminal,
// twice, or the first line of stdin) and prints a TOML block with its
// bcrypt hash for the user NAME.
func passwd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("passwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	editor := fs.Bool("editor", false, "print an [[editor.users]] block (editor and admin API) instead of [[broker.users]] (MQTT)")
	role := fs.String("role", "", "the editor user's `role`: full (may deploy) or read (read-only); default full")
	cost := fs.Int("cost", bcrypt.DefaultCost, fmt.Sprintf("bcrypt `cost`, %d to %d: each step doubles the work of checking a password", bcrypt.MinCost, bcrypt.MaxCost))
	fs.Usage = func() {
		fmt.Fprint(stderr, passwdUsage)
		fs.PrintDefaults()
	}
	// Flags may come before or after the name.
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		names = append(names, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(names) != 1 || names[0] == "" {
		fs.Usage()
		return errors.New("want exactly one user name")
	}
	name := names[0]
	switch {
	case *role != "" && !*editor:
		return errors.New("--role applies to editor users only: add --editor")
	case *role == "":
		*role = "full"
	case *role != "full" && *role != "read":
		return fmt.Errorf("--role %q: want full or read", *role)
	}
	if *cost < bcrypt.MinCost || *cost > bcrypt.MaxCost {
		return fmt.Errorf("--cost %d: want %d to %d", *cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword(pw, *cost)
	if err != nil {
		return fmt.Errorf("hash the password: %w", err)
	}
	if *editor {
		fmt.Fprintf(stdout, "[[editor.users]]\nname = %s\npassword_hash = %s\nrole = %s\n",
			tomlString(name), tomlString(string(hash)), tomlString(*role))
	} else {
		fmt.Fprintf(stdout, "[[broker.users]]\nname = %s\npassword_hash = %s\n", tomlString(name), tomlString(string(hash)))
	}
	return nil
}

// readPassword reads the password from the terminal when stdin is one,
// and otherwise from the first line of stdin.
func readPassword(stdin io.Reader, prompt io.Writer) ([]byte, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return readPasswordTwice(func() ([]byte, error) { return term.ReadPassword(int(f.Fd())) }, prompt)
	}
	line, err := bufio.NewReader(stdin).ReadBytes('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no password on standard input")
		}
		return nil, fmt.Errorf("read the password: %w", err)
	}
	pw := bytes.TrimRight(line, "\r\n")
	if len(pw) == 0 {
		return nil, errors.New("empty password")
	}
	return pw, nil
}

// readPasswordTwice asks for the password and for it again, with read
// reading one without echo.
func readPasswordTwice(read func() ([]byte, error), prompt io.Writer) ([]byte, error) {
	fmt.Fprint(prompt, "Password: ")
	pw, err := read()
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("read the password: %w", err)
	}
	if len(pw) == 0 {
		return nil, errors.New("empty password")
	}
	fmt.Fprint(prompt, "Again: ")
	again, err := read()
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("read the password: %w", err)
	}
	if !bytes.Equal(pw, again) {
		return nil, errors.New("the passwords do not match")
	}
	return pw, nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
