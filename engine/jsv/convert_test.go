package jsv

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestUTF16Len(t *testing.T) {
	for s, want := range map[string]int{"": 0, "abc": 3, "é": 1, "€": 1, "😀": 2, "a😀b": 4, "\xff": 1} {
		if got := UTF16Len(s); got != want {
			t.Errorf("UTF16Len(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestIsCanonicalNumber checks every text it accepts against
// FormatNumber of the parsed number, and a list of forms it must refuse.
func TestIsCanonicalNumber(t *testing.T) {
	yes := []string{"0", "7", "-7", "10", "100", "123456789012345", "-123456789012345", "0.5", "-0.5", "21.5",
		"0.1", "0.000001", "-0.000001", "1.25", "99.99", "0.123456789012345", "12345678901234.5"}
	no := []string{"", "-", "-0", "00", "01", "1.", ".5", "1.50", "1.0", "1e2", "1E2", "1e-7", "0.0000001",
		"1234567890123456", "0.1234567890123456", "123456789012345.6", "+1", "1x", "NaN", "0x10", "-0.0"}
	for _, s := range yes {
		if !IsCanonicalNumber(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range no {
		if IsCanonicalNumber(s) {
			t.Errorf("%q accepted", s)
		}
	}
	// Whatever it accepts is written back the same.
	for _, s := range yes {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || FormatNumber(f) != s {
			t.Errorf("%q: FormatNumber gives %q", s, FormatNumber(f))
		}
	}
}

// FuzzIsCanonicalNumber: any text accepted is a number FormatNumber
// writes back the same.
func FuzzIsCanonicalNumber(f *testing.F) {
	for _, s := range []string{"0", "21.5", "-0.000001", "123456789012345", "1e5", "0.30000000000000004"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !IsCanonicalNumber(s) {
			return
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || FormatNumber(x) != s {
			t.Errorf("%q accepted, FormatNumber gives %q", s, FormatNumber(x))
		}
	})
}

// TestIsCanonicalNumberRandom: random decimals of 1 to 15 significant
// digits, the point anywhere: every one accepted is written back the same.
func TestIsCanonicalNumberRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for range 200000 {
		n := 1 + r.IntN(15)
		d := make([]byte, n)
		for i := range d {
			d[i] = byte('0' + r.IntN(10))
		}
		s := string(d)
		if p := r.IntN(n + 6); p < n {
			s = s[:p] + "." + s[p:]
		} else {
			s = "0." + strings.Repeat("0", p-n) + s
		}
		if r.IntN(2) == 0 {
			s = "-" + s
		}
		if !IsCanonicalNumber(s) {
			continue
		}
		accepted++
		x, _ := strconv.ParseFloat(s, 64)
		if got := FormatNumber(x); got != s {
			t.Fatalf("%q accepted, FormatNumber gives %q", s, got)
		}
	}
	if accepted < 10000 {
		t.Errorf("only %d accepted", accepted)
	}
}
