package network

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
)

// TestFormDataBody: the parts of a multipart/form-data body, exactly as
// Node-RED's form-data writes their headers.
func TestFormDataBody(t *testing.T) {
	body, ct, ok := formDataBody(engine.RawJSON(`{"s":"x","n":1.5,"z":null,"o":{"a":1},"b":{"type":"Buffer","data":[104,105]},` +
		`"f":{"value":"t","options":{"filename":"dir/a \"q\".txt"}},"g":{"value":{"type":"Buffer","data":[1]},"options":{"filename":"x.unknownext"}}}`))
	if !ok {
		t.Fatal("not a form")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		t.Fatalf("content type %q", ct)
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var got []string
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(p)
		got = append(got, p.Header.Get("Content-Disposition")+" | "+p.Header.Get("Content-Type")+" | "+string(data))
	}
	want := []string{
		`form-data; name="s" |  | x`,
		`form-data; name="n" |  | 1.5`,
		`form-data; name="o" |  | {"a":1}`,
		`form-data; name="b" | application/octet-stream | hi`,
		`form-data; name="f"; filename="a \"q\".txt" | text/plain | t`,
		`form-data; name="g"; filename="x.unknownext" | application/octet-stream | ` + "\x01",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("parts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, notForm := range []any{"text", []byte("b"), nil, engine.RawJSON(`5`)} {
		if _, _, ok := formDataBody(notForm); ok {
			t.Errorf("%#v taken for a form", notForm)
		}
	}
}
