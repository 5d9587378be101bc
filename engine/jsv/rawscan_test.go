package jsv

import "testing"

// BenchmarkFindMember finds a key of the reference flow's payloads.
//
//	go test -run '^$' -bench FindMember -benchmem -cpu 1 ./engine/jsv/
func BenchmarkFindMember(b *testing.B) {
	obj := []byte(`{"temperature":1234,"humidity":40,"fahrenheit":2253.2,"device":"dev3"}`)
	for _, key := range []string{"temperature", "humidity", "missing"} {
		b.Run(key, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, st := FindMember(obj, key); st == ScanUnsure {
					b.Fatal("unsure")
				}
			}
		})
	}
}
