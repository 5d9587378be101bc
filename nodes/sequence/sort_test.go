package sequence

import (
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine/nodetest"
)

func TestSort(t *testing.T) {
	for _, c := range []seqCase{
		{name: "array ascending", node: `{"type":"sort","targetType":"msg"}`, in: []string{`{"payload":[3,1,2]}`}, want: `{"payload":[1,2,3]}`},
		{name: "array as numbers descending", node: `{"type":"sort","targetType":"msg","as_num":true,"order":"descending"}`, in: []string{`{"payload":["3",10,"20"]}`}, want: `{"payload":["20",10,"3"]}`},
		{name: "array by JSONata", node: `{"type":"sort","targetType":"msg","msgKey":"a","msgKeyType":"jsonata"}`, in: []string{`{"payload":[{"a":2},{"a":1}]}`}, want: `{"payload":[{"a":1},{"a":2}]}`},
		{name: "not an array is dropped", node: `{"type":"sort","targetType":"msg"}`, in: []string{`{"payload":5}`}},
		{name: "sequence", node: `{"type":"sort","targetType":"seq","seqKey":"payload","seqKeyType":"msg"}`,
			in:   []string{`{"payload":2,"parts":{"id":"s","index":0,"count":2}}`, `{"payload":1,"parts":{"id":"s","index":1,"count":2}}`},
			want: `{"payload":1,"parts":{"count":2,"id":"s","index":0}}` + "\n" + `{"payload":2,"parts":{"count":2,"id":"s","index":1}}`},
	} {
		t.Run(c.name, func(t *testing.T) { runSeq(t, c, SortType) })
	}
	_, err := nodetest.Deploy(t, nodetest.ChainJSON(t, `{"type":"sort","targetType":"msg","msgKey":"(","msgKeyType":"jsonata"}`), nodetest.Options{}, SortType)
	if err == nil || !strings.Contains(err.Error(), `field "msgKey"`) {
		t.Errorf("deploy error %v", err)
	}
}

func TestSortConformance(t *testing.T) {
	nodetest.Conformance(t, SortType, nodetest.ConformanceOptions{})
	nodetest.Conformance(t, SortType, nodetest.ConformanceOptions{Props: `{"targetType":"seq"}`})
}
