package network

import (
	"bytes"
	"fmt"
	"mime"
	"mime/multipart"
	"net/textproto"
	"path"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/runnel-io/runnel/engine"
)

// formDataBody writes an object payload as multipart/form-data, as
// Node-RED's http request does when msg.headers["content-type"] is
// "multipart/form-data" (with the form-data package): one part per
// property in order, skipping null; a string as it is; a Buffer as
// application/octet-stream; {value, options: {filename, contentType}} as
// a file part (its type from contentType, else from the file name's
// extension); anything else as its JSON text. A Buffer inside an object
// reaches Runnel's nodes as {"type":"Buffer","data":[...]}, and is taken
// as one. It reports false when p is not an object.
func formDataBody(p any) (body []byte, contentType string, ok bool) {
	var raw []byte
	switch v := p.(type) {
	case engine.RawJSON:
		raw = v
	case []byte, string, nil:
		return nil, "", false
	default:
		raw = engine.AppendJSON(nil, v)
	}
	r := gjson.ParseBytes(raw)
	if !r.IsObject() && !r.IsArray() {
		return nil, "", false
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	var err error
	i := 0
	r.ForEach(func(k, v gjson.Result) bool {
		name := k.String()
		if r.IsArray() {
			name = fmt.Sprint(i)
		}
		i++
		err = writeFormPart(w, name, v)
		return err == nil
	})
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, "", false // writing to a bytes.Buffer does not fail
	}
	return buf.Bytes(), w.FormDataContentType(), true
}

// writeFormPart writes one property of a form (see formDataBody).
func writeFormPart(w *multipart.Writer, name string, v gjson.Result) error {
	h := textproto.MIMEHeader{}
	disp := `form-data; name="` + quoteEscaper.Replace(name) + `"`
	var data []byte
	switch {
	case v.Type == gjson.Null:
		return nil
	case v.Type == gjson.String:
		data = []byte(v.Str)
	case isBufferJSON(v):
		data = bufferJSONBytes(v)
		h.Set("Content-Type", "application/octet-stream")
	case v.IsObject() && v.Get("value").Exists():
		val, opts := v.Get("value"), v.Get("options")
		isBuf := isBufferJSON(val)
		switch {
		case isBuf:
			data = bufferJSONBytes(val)
		case val.Type == gjson.String:
			data = []byte(val.Str)
		default:
			data = []byte(val.Raw)
		}
		file := opts.Get("filename").String()
		if file != "" {
			disp += `; filename="` + quoteEscaper.Replace(path.Base(file)) + `"`
		}
		ct := opts.Get("contentType").String()
		if ct == "" && file != "" {
			ct, _, _ = strings.Cut(mime.TypeByExtension(path.Ext(file)), ";")
		}
		if ct == "" && isBuf {
			ct = "application/octet-stream"
		}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
	default:
		data = []byte(v.Raw) // JSON.stringify of a number, boolean, object or array
	}
	h.Set("Content-Disposition", disp)
	pw, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	_, err = pw.Write(data)
	return err
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// isBufferJSON reports whether v is a Buffer as JSON.stringify writes it.
func isBufferJSON(v gjson.Result) bool {
	return v.IsObject() && v.Get("type").Str == "Buffer" && v.Get("data").IsArray()
}

// bufferJSONBytes returns the bytes of a Buffer written as JSON.
func bufferJSONBytes(v gjson.Result) []byte {
	arr := v.Get("data").Array()
	b := make([]byte, len(arr))
	for i, e := range arr {
		b[i] = byte(e.Int())
	}
	return b
}
