package broker_test

import (
	"fmt"

	"github.com/runnel-io/runnel/broker"
)

// Users and ACL rules as the [[broker.users]] and [[broker.acl]] sections
// of the config file give them. The hash is `runnel passwd sensor1`'s for
// the password "s3cret" (at a low cost, to keep the example quick).
func ExampleAuthOptions() {
	auth := broker.AuthOptions{
		Users: []broker.User{
			{Name: "sensor1", PasswordHash: "$2a$04$BFptUn1Qa29tYmLBxCBP/.fEoIDFLocuUdY2iTxEVl36GZqMO52AO"},
		},
		ACL: []broker.ACLRule{
			{User: "sensor1", Topic: "sensors/%u/#", Access: broker.AccessWrite},
			{User: "flows", Topic: "sensors/#", Access: broker.AccessRead},
			{User: "flows", Topic: "alerts/#", Access: broker.AccessWrite},
		},
		FlowsUser: "flows",
	}
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", Auth: auth})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	fmt.Println(b.Publish("alerts/temperature", []byte("hot"), 0, false))
	fmt.Println(b.Publish("sensors/sensor1/temp", []byte("21"), 0, false))

	auth.ACL[0].Access = "write-only"
	fmt.Println(auth.Validate())
	// Output:
	// <nil>
	// the broker ACL does not allow flows user "flows" to publish to "sensors/sensor1/temp"
	// broker.acl[0].access: unknown access "write-only" (want read, write, readwrite or deny)
}
