package cli

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/runnel-io/runnel/broker"
)

var hashLine = regexp.MustCompile(`(?m)^password_hash = "(\$2a\$\d\d\$[./A-Za-z0-9]{53})"$`)

// TestPasswd: the printed block holds a bcrypt hash of the password read
// from stdin, at the asked cost, that the broker accepts as a user.
func TestPasswd(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := passwd([]string{"--cost", "5", "sensor1"}, strings.NewReader("s3cret pass\n"), &out, &errOut); err != nil {
		t.Fatal(err, errOut.String())
	}
	m := hashLine.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no hash line in:\n%s", out.String())
	}
	if want := "[[broker.users]]\nname = \"sensor1\"\npassword_hash = \"" + m[1] + "\"\n"; out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(m[1]), []byte("s3cret pass")); err != nil {
		t.Errorf("the hash does not match the password: %v", err)
	}
	if cost, _ := bcrypt.Cost([]byte(m[1])); cost != 5 {
		t.Errorf("cost %d, want 5", cost)
	}
	if err := (broker.AuthOptions{Users: []broker.User{{Name: "sensor1", PasswordHash: m[1]}}}).Validate(); err != nil {
		t.Errorf("the broker refuses the hash: %v", err)
	}

	// Editor users, flags after the name, a last line without newline,
	// and a name that needs quoting.
	out.Reset()
	if err := passwd([]string{"--editor", `ad"min`, "--role", "read", "--cost", "4"}, strings.NewReader("pw"), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	m = hashLine.FindStringSubmatch(out.String())
	if m == nil || out.String() != "[[editor.users]]\nname = \"ad\\\"min\"\npassword_hash = \""+m[1]+"\"\nrole = \"read\"\n" {
		t.Errorf("editor output:\n%s", out.String())
	}
	if m != nil && bcrypt.CompareHashAndPassword([]byte(m[1]), []byte("pw")) != nil {
		t.Error("the editor hash does not match")
	}
	out.Reset()
	if err := passwd([]string{"--editor", "--cost", "4", "ops"}, strings.NewReader("pw\r\n"), &out, &errOut); err != nil ||
		!strings.HasSuffix(out.String(), "\nrole = \"full\"\n") {
		t.Errorf("default role: %v\n%s", err, out.String())
	}
	m = hashLine.FindStringSubmatch(out.String())
	if m == nil || bcrypt.CompareHashAndPassword([]byte(m[1]), []byte("pw")) != nil {
		t.Error("a CRLF line ending became part of the password")
	}
}

func TestPasswdErrors(t *testing.T) {
	cases := []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"a"}, "", "no password on standard input"},
		{[]string{"a"}, "\n", "empty password"},
		{[]string{}, "pw\n", "want exactly one user name"},
		{[]string{"a", "b"}, "pw\n", "want exactly one user name"},
		{[]string{"--role", "read", "a"}, "pw\n", "--role applies to editor users only: add --editor"},
		{[]string{"--editor", "--role", "admin", "a"}, "pw\n", `--role "admin": want full or read`},
		{[]string{"--cost", "3", "a"}, "pw\n", "--cost 3: want 4 to 31"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		err := passwd(c.args, strings.NewReader(c.stdin), &out, &errOut)
		if err == nil || err.Error() != c.want {
			t.Errorf("passwd %q: %v, want %q", c.args, err, c.want)
		}
		if out.Len() != 0 {
			t.Errorf("passwd %q printed %q", c.args, out.String())
		}
	}
	// Through the command line: exit status 1 and the command named.
	var out, errOut bytes.Buffer
	if code := MainContext(context.Background(), []string{"passwd", "--cost", "99", "x"}, &out, &errOut); code != 1 ||
		errOut.String() != "runnel passwd: --cost 99: want 4 to 31\n" {
		t.Errorf("exit %d, %q", code, errOut.String())
	}
}

// TestPasswordTwice: on a terminal the password is asked for twice.
func TestPasswordTwice(t *testing.T) {
	reader := func(answers ...string) func() ([]byte, error) {
		return func() ([]byte, error) {
			if len(answers) == 0 {
				return nil, errors.New("no more input")
			}
			a := answers[0]
			answers = answers[1:]
			return []byte(a), nil
		}
	}
	var prompt bytes.Buffer
	pw, err := readPasswordTwice(reader("abc", "abc"), &prompt)
	if err != nil || string(pw) != "abc" || prompt.String() != "Password: \nAgain: \n" {
		t.Errorf("matching: %q, %v, prompt %q", pw, err, prompt.String())
	}
	if _, err := readPasswordTwice(reader("abc", "abd"), &prompt); err == nil || err.Error() != "the passwords do not match" {
		t.Errorf("mismatch: %v", err)
	}
	if _, err := readPasswordTwice(reader(""), &prompt); err == nil || err.Error() != "empty password" {
		t.Errorf("empty: %v", err)
	}
}
