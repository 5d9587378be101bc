package nodes_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
	_ "github.com/runnel-io/runnel/nodes"
)

// numeric matches options that are their own label (QoS 0, 1, 2).
var numeric = regexp.MustCompile(`^[0-9]+$`)

// TestFormsShowNoCodes audits the settings form of every registered node
// type, as GET /nodes gives it to the editor: every choice of a select has
// a human label (numbers may stand for themselves), no label is empty or
// a fragment of another (a comma in a label split it into two options),
// and every type of a TypedInput has a label.
func TestFormsShowNoCodes(t *testing.T) {
	for _, typ := range engine.DefaultRegistry.Types() {
		var check func(prefix string, fs []engine.Field)
		check = func(prefix string, fs []engine.Field) {
			for _, f := range fs {
				name := typ.Type + " " + prefix + f.Name
				if f.Kind == "hidden" {
					continue
				}
				if f.Kind == "select" {
					allNumbers := true
					for _, o := range f.Options {
						allNumbers = allNumbers && numeric.MatchString(o)
					}
					if !allNumbers && len(f.OptionLabels) != len(f.Options) {
						t.Errorf("%s: options %q have no labels: the form would show codes", name, f.Options)
					}
					for i, l := range f.OptionLabels {
						if strings.TrimSpace(l) == "" || l != strings.TrimSpace(l) {
							t.Errorf("%s: option %q has the label %q", name, f.Options[i], l)
						}
					}
				}
				if f.Kind == "typed" {
					if len(f.TypeLabels) != len(f.Types) {
						t.Errorf("%s: types %q have labels %q", name, f.Types, f.TypeLabels)
					}
				}
				check(prefix+f.Name+"[].", f.Item)
			}
		}
		check("", typ.Fields)
	}
}

// sampleValue is a value each TypedInput type accepts.
var sampleValue = map[string]string{
	"str": "a", "num": "1", "bool": "true", "json": "{}", "bin": "[]", "re": "a", "jsonata": "1", "env": "HOME",
	"msg": "payload", "flow": "x", "global": "x", "expr": "1",
}

// TestFormsOfferOnlyWhatDeploys: every choice a form offers (each option
// of a select, each type of a TypedInput, at the top level and in list
// entries) is accepted by a deploy: the node may have other problems with
// its other settings (a required topic left empty), none with the field
// chosen. The properties a field's showif names are set so that the field
// is shown, as the user would see it.
func TestFormsOfferOnlyWhatDeploys(t *testing.T) {
	rt := engine.New(engine.Options{Registry: engine.DefaultRegistry})
	try := func(t *testing.T, typ *engine.Type, props map[string]any, field string) {
		t.Helper()
		n := map[string]any{"id": "n1", "type": typ.Type}
		if !typ.Config {
			n["z"] = "t1"
			n["wires"] = [][]string{}
		}
		for k, v := range props {
			n[k] = v
		}
		b, _ := json.Marshal([]any{map[string]any{"id": "t1", "type": "tab", "label": "Flow"}, n})
		doc, err := flows.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		_, err = rt.Compile(doc)
		var probs flows.Problems
		if err != nil && !errors.As(err, &probs) {
			t.Fatalf("%s: %v", b, err)
		}
		for _, p := range probs {
			if p.Field == field {
				t.Errorf("%s offers %s but a deploy refuses it: %s", typ.Type, b, p.Msg)
			}
		}
	}
	// shown sets the properties f's showif names to values that show it.
	shown := func(f engine.Field, props map[string]any) map[string]any {
		for k, vals := range f.ShowIf {
			if _, set := props[k]; !set {
				props[k] = vals[0]
			}
		}
		return props
	}
	for _, typ := range engine.DefaultRegistry.Types() {
		t.Run(typ.Type, func(t *testing.T) {
			for _, f := range typ.Fields {
				switch f.Kind {
				case "select":
					for _, o := range f.Options {
						try(t, typ, shown(f, map[string]any{f.Name: o}), f.Name)
					}
				case "typed":
					for _, ty := range f.Types {
						try(t, typ, shown(f, map[string]any{f.Name: sampleValue[ty], f.TypeProp: ty}), f.Name)
					}
				case "list":
					for _, x := range f.Item {
						field := fmt.Sprintf("%s[0].%s", f.Name, x.Name)
						entry := func(props map[string]any) map[string]any {
							return shown(f, map[string]any{f.Name: []any{shown(x, props)}})
						}
						switch x.Kind {
						case "select":
							for _, o := range x.Options {
								try(t, typ, entry(map[string]any{x.Name: o}), field)
							}
						case "typed":
							for _, ty := range x.Types {
								try(t, typ, entry(map[string]any{x.Name: sampleValue[ty], x.TypeProp: ty}), field)
							}
						}
					}
				}
			}
		})
	}
}
