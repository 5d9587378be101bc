package sqlitedb_test

import (
	"os/exec"
	"strings"
	"testing"
)

// leaves are Runnel's leaf helper packages: each imports nothing of
// Runnel's but the others.
var leaves = map[string]bool{
	"github.com/runnel-io/runnel/broker/topic":           true,
	"github.com/runnel-io/runnel/engine/config/defaults": true,
	"github.com/runnel-io/runnel/flows/jsutf8":           true,
	"github.com/runnel-io/runnel/flows/sqlitedb":         true,
}

// TestLeaf keeps this package a leaf: packages of several layers use it,
// so were it to import one of theirs they would end up importing one
// another through it.
func TestLeaf(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/runnel-io/runnel/") && !leaves[p] {
			t.Errorf("imports %s; a leaf imports nothing from Runnel but other leaves", p)
		}
	}
}
