package jsutf8

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"unicode/utf8"
)

// isUTF8Bytewise is IsUTF8 as it was written first, one byte or rune at a
// time: the reference its fast path is checked against.
func isUTF8Bytewise(b []byte) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F {
				return false
			}
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		i += size - 1
	}
	return true
}

// TestIsUTF8EveryByteEverywhere: each byte value, alone and at every
// position of a word-sized run of text (so in each lane of the word scan
// and in the tail), in ASCII and multi-byte text, gives the reference's
// answer.
func TestIsUTF8EveryByteEverywhere(t *testing.T) {
	for _, base := range []string{strings.Repeat("a", 19), "héllo wörld ✓ 😀 ok"} {
		for c := 0; c < 256; c++ {
			for i := 0; i <= len(base); i++ {
				b := []byte(base[:i] + string([]byte{byte(c)}) + base[i:])
				if got, want := IsUTF8(b), isUTF8Bytewise(b); got != want {
					t.Fatalf("IsUTF8(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

func FuzzIsUTF8(f *testing.F) {
	for _, c := range nodeCases {
		b, _ := hex.DecodeString(c.hex)
		f.Add(b)
	}
	f.Add([]byte("a line\tof text\r\n with \x7f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := IsUTF8(b), isUTF8Bytewise(b); got != want {
			t.Fatalf("IsUTF8(%q) = %v, the byte-wise reference gives %v", b, got, want)
		}
	})
}

// BenchmarkIsUTF8 measures the auto-detect test on about 1 KiB of JSON
// lines (the common case: text) and of multi-byte text.
func BenchmarkIsUTF8(b *testing.B) {
	for _, c := range []struct {
		name string
		p    []byte
	}{
		{"json", bytes.Repeat([]byte(`{"temp":21.5,"unit":"C","id":"s1"}`+"\n"), 30)},
		{"multibyte", bytes.Repeat([]byte("température ✓ "), 60)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.p)))
			for b.Loop() {
				if !IsUTF8(c.p) {
					b.Fatal("not text")
				}
			}
		})
	}
}
