package storage

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"

	"github.com/runnel-io/runnel/engine/jsv"
	"github.com/runnel-io/runnel/flows/jsutf8"
)

// codec converts between text and the bytes of a file in one of the
// encodings Node-RED's file nodes offer through iconv-lite: "none" (UTF-8),
// Node's own (utf8, ascii, latin1/binary, base64, hex, utf16le/ucs2) and
// the WHATWG character sets (windows-1252, iso-8859-2, shift_jis, gbk,
// euc-kr, big5, koi8-r...). Encodings iconv-lite has and WHATWG does not
// (some DOS code pages) are refused at deploy.
type codec struct {
	name string
	enc  encoding.Encoding // nil for none, utf8, base64, hex
}

func newCodec(name string) (codec, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	c := codec{name: n}
	switch n {
	case "", "none", "utf8", "utf-8":
		c.name = "none"
	case "base64", "hex", "ascii", "binary":
	case "latin1", "iso-8859-1", "iso8859-1":
		c.enc = charmap.ISO8859_1
	case "utf16le", "utf-16le", "ucs2", "ucs-2":
		c.enc = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case "utf16be", "utf-16be":
		c.enc = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	default:
		e, err := htmlindex.Get(n)
		if err != nil {
			return c, fmt.Errorf("encoding %q is not supported", name)
		}
		c.enc = e
	}
	return c, nil
}

// encode is iconv.encode(text, name) (Buffer.from for none).
func (c codec) encode(s string) []byte {
	switch c.name {
	case "none":
		return []byte(s)
	case "base64":
		return jsv.DecodeBase64(s)
	case "hex":
		b, _ := hex.DecodeString(s)
		return b
	case "ascii":
		// iconv-lite's ascii: a "?" for each UTF-16 unit above 0x7f.
		out := make([]byte, 0, len(s))
		for _, r := range s {
			switch {
			case r < 0x80:
				out = append(out, byte(r))
			case r > 0xffff:
				out = append(out, '?', '?')
			default:
				out = append(out, '?')
			}
		}
		return out
	case "binary":
		// Node's binary (latin1) encoding: the low byte of each UTF-16
		// unit.
		out := make([]byte, 0, len(s))
		for _, u := range utf16.Encode([]rune(s)) {
			out = append(out, byte(u))
		}
		return out
	}
	if b, err := c.enc.NewEncoder().Bytes([]byte(s)); err == nil {
		return b
	}
	// A character the encoding lacks becomes "?", as iconv-lite writes it.
	var out []byte
	e := c.enc.NewEncoder()
	for _, r := range s {
		b, err := e.Bytes([]byte(string(r)))
		if err != nil {
			b = []byte{'?'}
			if _, sbcs := c.enc.(*charmap.Charmap); sbcs && r > 0xffff {
				// iconv-lite's single-byte codecs replace each UTF-16
				// unit: two for a character beyond the BMP.
				b = []byte{'?', '?'}
			}
		}
		out = append(out, b...)
		e.Reset()
	}
	return out
}

// decode is iconv.decode(bytes, name) (buf.toString() for none).
func (c codec) decode(b []byte) string {
	switch c.name {
	case "none":
		return jsutf8.Decode(b)
	case "base64":
		return base64.StdEncoding.EncodeToString(b)
	case "hex":
		return hex.EncodeToString(b)
	case "ascii":
		var sb strings.Builder
		for _, x := range b {
			if x < 0x80 {
				sb.WriteByte(x)
			} else {
				sb.WriteRune(utf8.RuneError)
			}
		}
		return sb.String()
	case "binary":
		r := make([]rune, len(b))
		for i, x := range b {
			r[i] = rune(x)
		}
		return string(r)
	}
	s, err := c.enc.NewDecoder().Bytes(b)
	if err != nil {
		return jsutf8.Decode(b)
	}
	return string(s)
}
