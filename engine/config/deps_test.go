package config_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoServerPackage keeps the dependencies pointing one way: the
// broker, the editor and the nodes may read their defaults from
// engine/config/defaults, but config must not import them (only leaf
// helpers such as broker/topic), or the server packages could never use
// config without a cycle.
func TestImportsNoServerPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/runnel-io/runnel/"
	allowed := map[string]bool{mod + "broker/topic": true}
	for _, p := range strings.Fields(string(out)) {
		rel, ok := strings.CutPrefix(p, mod)
		if !ok || allowed[p] {
			continue
		}
		for _, server := range []string{"broker", "editor", "nodes", "engine/cli"} {
			if rel == server || strings.HasPrefix(rel, server+"/") {
				t.Errorf("engine/config imports %s; it must import no server package", p)
			}
		}
	}
}
