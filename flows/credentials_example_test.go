package flows_test

import (
	"fmt"

	"github.com/runnel-io/runnel/flows"
)

// Credentials come out of the flow document when it is parsed, and are
// kept encrypted in Node-RED's flows_cred.json format.
func ExampleEncryptCredentials() {
	doc, err := flows.Parse([]byte(`[{"id":"b1","type":"mqtt-broker","broker":"cloud.example",
		"credentials":{"user":"gateway-7","password":"s3cret"}}]`))
	if err != nil {
		fmt.Println(err)
		return
	}
	text, _ := doc.Marshal(flows.FormatNodeRED, false)
	fmt.Println(string(text)) // no credentials in the document

	sealed, err := flows.EncryptCredentials(doc.Credentials, "my credential secret")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(flows.CredentialsFile("flows.json"), string(sealed[:6])+"…")

	back, err := flows.DecryptCredentials(sealed, "my credential secret")
	fmt.Println(back["b1"]["user"], err)
	_, err = flows.DecryptCredentials(sealed, "another secret")
	fmt.Println(err)
	// Output:
	// [{"id":"b1","type":"mqtt-broker","broker":"cloud.example"}]
	// flows_cred.json {"$":"…
	// gateway-7 <nil>
	// credentials: cannot decrypt: the credential secret is not the one the credentials were encrypted with
}
