package editor_test

import (
	"fmt"

	"github.com/runnel-io/runnel/editor"
)

// An admin API token for a CI job: give the token to the job, put its hash
// in the configuration ([[editor.tokens]] token_hash).
func ExampleHashToken() {
	fmt.Println(editor.HashToken("correct horse battery staple"))
	// Output: sha256:c4bbcb1fbec99d65bf59d85c8cb62ee2db963f0fe106f483d9afa73bd4e39a8a
}
