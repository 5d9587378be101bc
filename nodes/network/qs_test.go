package network

import (
	"errors"
	"strings"
	"testing"
)

// TestParseQS pins the qs parser on the behaviours the differential cases
// http-query-qs and http-form-qs check against Node-RED 4.1.15, plus the
// limits with small values, so that a regression shows without Node-RED.
func TestParseQS(t *testing.T) {
	small := qsOptions{depth: 2, arrayLimit: 3, parameterLimit: 4}
	for _, c := range []struct {
		in   string
		opts qsOptions
		want string
	}{
		{"", queryQS, `{}`},
		{"a[b]=1&c[]=2", queryQS, `{"a":{"b":"1"},"c":["2"]}`},
		{"z=1&a=2&z=3&b=1&2=x&1=y", queryQS, `{"1":"y","2":"x","z":["1","3"],"a":"2","b":"1"}`},
		{"a[1]=x&a[0]=y&i[25]=s&j[1001]=t", queryQS, `{"a":["y","x"],"i":["s"],"j":{"1001":"t"}}`},
		{"a[]=1&a[]=2&a=3&e[]=&f[0]=&f[2]=b", queryQS, `{"a":["1","2","3"],"e":[""],"f":["","b"]}`},
		{"a[b][c][d][e][f][g][h]=deep&x[[y]]=1&u[v=2&w[p]q=3", queryQS,
			`{"a":{"b":{"c":{"d":{"e":{"f":{"[g][h]":"deep"}}}}}},"x":{"[y]":"1"},"u":{"[v":"2"},"w":{"p":"3"}}`},
		{"a.b=1&%5Bx%5D=2&=3&k&k2=&x=%E2%9C%93+y&bad=%ZZ&m]=4&n=c=d", queryQS,
			`{"a.b":"1","x":["2","✓ y"],"k":"","k2":"","bad":"%ZZ","m]":"4","n":"c=d"}`},
		{"a=1&a[b]=2&c[d]=1&c=2&p[q]=1&p[q]=2&r[]=1&r[s]=2", queryQS,
			`{"a":["1",{"b":"2"}],"c":[{"d":"1"},"2"],"p":{"q":["1","2"]},"r":{"0":"1","s":"2"}}`},
		{"__proto__[x]=1&toString=2&hasOwnProperty=3&o[__proto__]=4&o[constructor]=5", queryQS,
			`{"toString":"2","hasOwnProperty":"3","o":{"constructor":"5"}}`},
		// An escape that is not UTF-8 leaves the text as it is.
		{"a=%FF%41&b=%C3%A9", queryQS, `{"a":"%FF%41","b":"é"}`},
		// The limits: parameters beyond the limit are ignored; arrays
		// longer than arrayLimit, or indices at it, become objects; depth.
		{"a=1&b=2&c=3&d=4&e=5", small, `{"a":"1","b":"2","c":"3","d":"4"}`},
		{"r=1&r=2&r=3&r=4", small, `{"r":{"0":"1","1":"2","2":"3","3":"4"}}`},
		{"a[2]=x&b[3]=y&c[]=1&c[]=2", small, `{"a":["x"],"b":{"3":"y"},"c":["1","2"]}`},
		{"c[]=1&c[]=2&c[]=3&c[]=4", small, `{"c":{"0":"1","1":"2","2":"3","3":"4"}}`},
		{"a[b][c][d]=1", small, `{"a":{"b":{"c":{"[d]":"1"}}}}`},
		// An overflowed array takes further values at its next index.
		{"b[3]=y&b=z", small, `{"b":{"3":"y","4":"z"}}`},
	} {
		got, err := parseQS(c.in, c.opts)
		if err != nil || string(got) != c.want {
			t.Errorf("parseQS(%q) = %s, %v\nwant %s", c.in, got, err, c.want)
		}
	}
	// A form body: depth 32 strictly, at most 1000 parameters.
	opts, err := formQS("a" + strings.Repeat("[b]", 33) + "=x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseQS("a"+strings.Repeat("[b]", 33)+"=x", opts); !errors.Is(err, errQSDepth) {
		t.Errorf("depth 33: %v", err)
	}
	if got, err := parseQS("a"+strings.Repeat("[b]", 32)+"=x", opts); err != nil || !strings.HasSuffix(string(got), `{"b":"x"}`+strings.Repeat("}", 32)) {
		t.Errorf("depth 32: %s %v", got, err)
	}
	if _, err := formQS(strings.Repeat("a=1&", 1000) + "a=1"); !errors.Is(err, errQSParams) {
		t.Errorf("1001 parameters: %v", err)
	}
	if o, err := formQS(strings.Repeat("a=1&", 150) + "a=1"); err != nil || o.arrayLimit != 151 {
		t.Errorf("151 parameters: %+v %v", o, err)
	}
}
