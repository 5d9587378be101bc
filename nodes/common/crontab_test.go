package common

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/London and America/New_York on any machine
)

// cronosjsCase is one line of testdata/cronosjs-next.jsonl: a time zone,
// a start, a crontab and the next four times cronosjs 1.7.1 (what Node-RED
// 4.1.15's inject node runs) gives after the start, or ["ERR"] when it
// refuses the crontab.
type cronosjsCase struct {
	tz, from, expr string
	want           []string
}

func readCronosjsCases(t *testing.T) []cronosjsCase {
	t.Helper()
	f, err := os.Open("testdata/cronosjs-next.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []cronosjsCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var row [4]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		var c cronosjsCase
		for i, p := range []*string{&c.tz, &c.from, &c.expr} {
			if err := json.Unmarshal(row[i], p); err != nil {
				t.Fatal(err)
			}
		}
		if err := json.Unmarshal(row[3], &c.want); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// TestCrontabNextTimesAsCronosjs: for every form Node-RED's editor writes
// ("at a time" on chosen days, "interval between times"), 6- and 7-field
// crontabs, names, ?, L, W, #, wrap-around ranges, predefined schedules and
// daylight saving changes in two zones, Runnel's next four times are
// cronosjs's, or both refuse the crontab. Known differences are listed in
// crontabKnownDiffs.
func TestCrontabNextTimesAsCronosjs(t *testing.T) {
	for _, c := range readCronosjsCases(t) {
		name := c.tz + " " + c.from + " " + c.expr
		if why, ok := crontabKnownDiffs[c.expr]; ok {
			t.Logf("%s: differs on purpose: %s", name, why)
			continue
		}
		loc, err := time.LoadLocation(c.tz)
		if err != nil {
			t.Fatal(err)
		}
		from, err := time.Parse(time.RFC3339, c.from)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := parseCrontab(c.expr, loc)
		if len(c.want) == 1 && c.want[0] == "ERR" {
			if err == nil {
				t.Errorf("%s: accepted, cronosjs refuses it", name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var got []string
		at := from
		for range c.want {
			at = ct.Next(at)
			if at.IsZero() {
				break
			}
			got = append(got, at.UTC().Format(time.RFC3339))
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s:\n got %v\nwant %v", name, got, c.want)
		}
	}
}

// crontabKnownDiffs are the crontabs of the table that Runnel reads
// differently from cronosjs, and why.
var crontabKnownDiffs = map[string]string{
	// go-cron's years run from 1 to 2147483647 and it looks 30 years
	// ahead at most; cronosjs looks to 275759.
	"0 0 0 1 1 * 2500": "a year more than 30 years ahead never fires",
	// cronosjs clamps nW to the month's last day; go-cron skips a month
	// without that day (Runnel maps 31W to LW, which is exact).
	"0 0 30W * *": "30W skips February",
	"0 0 29W * *": "29W skips a February of 28 days",
}

// TestCrontabGoldenIsCronosjs regenerates testdata/cronosjs-next.jsonl
// with Node-RED's own cronosjs, when Node.js and the differential
// harness's Node-RED are installed, so that the table cannot drift from
// what Node-RED runs.
func TestCrontabGoldenIsCronosjs(t *testing.T) {
	cronos, _ := filepath.Abs("../../.ci/nodered/node_modules/cronosjs")
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(cronos); err != nil || serr != nil {
		t.Skip("needs node and .ci/nodered (npm ci --prefix .ci/nodered)")
	}
	cases, err := os.Open("testdata/cronosjs-cases.json")
	if err != nil {
		t.Fatal(err)
	}
	defer cases.Close()
	cmd := exec.Command(node, "testdata/cronosjs-next.cjs")
	cmd.Env = append(os.Environ(), "CRONOS="+cronos)
	cmd.Stdin = cases
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("testdata/cronosjs-next.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(golden) {
		t.Fatalf("cronosjs now gives\n%s", out)
	}
}
