// Package nodereddiff holds Runnel's differential tests against real
// Node-RED: each case in testdata is a flow tab with the MQTT messages (or
// inject button presses) that drive it; the test runs every case through
// Node-RED 4.1.15 with mosquitto as its broker and through Runnel with its
// embedded broker, and compares what the two publish, byte for byte, with
// topic, QoS and retain flag. See docs/differential.md.
//
// The package has no code of its own; it exists for its tests:
//
//	npm ci --prefix .ci/nodered
//	go test -race -count=1 ./nodes/nodereddiff/
package nodereddiff
