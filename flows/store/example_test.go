package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/runnel-io/runnel/flows"
	"github.com/runnel-io/runnel/flows/store"
)

// Every deploy saved is a revision with a summary of what changed; the
// newest is the current flows. Context values are stored beside them.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "runnel-store")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := store.Open(ctx, filepath.Join(dir, "runnel.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	for _, text := range []string{
		`[{"id":"t1","type":"tab"},{"id":"i1","type":"inject","z":"t1","wires":[["d1"]]},{"id":"d1","type":"debug","z":"t1","wires":[]}]`,
		`[{"id":"t1","type":"tab"},{"id":"i1","type":"inject","z":"t1","repeat":"5","wires":[["d1"]]},{"id":"d1","type":"debug","z":"t1","wires":[]}]`,
	} {
		doc, err := flows.Parse([]byte(text))
		if err != nil {
			log.Fatal(err)
		}
		if _, err := s.Save(ctx, doc, store.SaveOptions{DeployType: "nodes"}); err != nil {
			log.Fatal(err)
		}
	}

	revs, err := s.Revisions(ctx, 10, 0)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range revs {
		fmt.Printf("#%d %s: %s (%d nodes)\n", r.ID, r.DeployType, r.Summary, r.Nodes)
	}
	doc, cur, err := s.Current(ctx)
	if err != nil {
		log.Fatal(err)
	}
	repeat, _ := doc.Node("i1").Get("repeat")
	fmt.Printf("current: #%d, i1 repeats every %s s\n", cur.ID, repeat)

	if err := s.WriteContext(ctx, []store.ContextEntry{{Scope: "global", Key: "count", Value: []byte(`42`)}}); err != nil {
		log.Fatal(err)
	}
	entries, err := s.LoadContext(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("context: %s %s = %s\n", entries[0].Scope, entries[0].Key, entries[0].Value)
	// Output:
	// #2 nodes: 1 changed (3 nodes)
	// #1 nodes: 3 added (3 nodes)
	// current: #2, i1 repeats every "5" s
	// context: global count = 42
}
