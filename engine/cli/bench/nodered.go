package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// noderedDir is where the repository pins Node-RED (npm ci --prefix
// .ci/nodered), the version the differential tests and the bench use.
const noderedDir = ".ci/nodered"

// noderedInstall says how to install Node-RED for the bench.
const noderedInstall = "install it with `npm ci --prefix .ci/nodered` in the runnel repository and run the bench there, or give --nodered DIR"

// noderedInstallation is a Node-RED the bench can start.
type noderedInstallation struct {
	node    string // the node binary
	redJS   string // node-red's red.js
	version string // node-red's package version
}

// findNodeRED finds node and Node-RED: dir (--nodered) is a directory
// holding node_modules/node-red (as .ci/nodered) or node-red's own
// directory; without it, .ci/nodered in the working directory or one of
// its parents. The errors say how to install what is missing.
func findNodeRED(dir string) (*noderedInstallation, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("--target nodered: node is not installed (Debian: apt-get install nodejs); Node-RED 4.1 needs Node.js 18 or later")
	}
	var candidates []string
	if dir != "" {
		candidates = []string{filepath.Join(dir, "node_modules", "node-red"), dir}
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		for d := wd; ; d = filepath.Dir(d) {
			candidates = append(candidates, filepath.Join(d, noderedDir, "node_modules", "node-red"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, c := range candidates {
		b, err := os.ReadFile(filepath.Join(c, "package.json"))
		if err != nil {
			continue
		}
		var p struct{ Name, Version string }
		if json.Unmarshal(b, &p) != nil || p.Name != "node-red" {
			continue
		}
		red, err := filepath.Abs(filepath.Join(c, "red.js"))
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(red); err != nil {
			return nil, fmt.Errorf("--target nodered: %s has no red.js: %s", c, noderedInstall)
		}
		return &noderedInstallation{node: node, redJS: red, version: p.Version}, nil
	}
	if dir != "" {
		return nil, fmt.Errorf("--target nodered: no Node-RED in %s (want node_modules/node-red there, or node-red's own directory): %s", dir, noderedInstall)
	}
	return nil, fmt.Errorf("--target nodered: Node-RED is not installed (no %s/node_modules/node-red in the working directory or its parents): %s", noderedDir, noderedInstall)
}

// noderedSettings is the settings file of the Node-RED the bench starts:
// its HTTP server on the loopback interface only, no editor, no HTTP
// nodes, nothing that phones home or installs modules, and a log of
// warnings and errors only.
func noderedSettings(port string) string {
	return strings.ReplaceAll(`// written by runnel bench
module.exports = {
    uiHost: "127.0.0.1",
    uiPort: PORT,
    flowFile: "flows.json",
    credentialSecret: false,
    disableEditor: true,
    httpNodeRoot: false,
    diagnostics: { enabled: false, ui: false },
    telemetry: { enabled: false },
    editorTheme: { tours: false, projects: { enabled: false } },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    logging: { console: { level: "warn", metrics: false, audit: false } },
};
`, "PORT", port)
}
