package trainer

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseCount reads a count with an optional k, M or G suffix (powers of
// ten: 2M is 2,000,000 tokens).
func ParseCount(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1e3, t[:n-1]
		case 'm', 'M':
			mult, t = 1e6, t[:n-1]
		case 'g', 'G', 'b', 'B':
			mult, t = 1e9, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*mult > 1e18 {
		return 0, fmt.Errorf("count %q: want a number ≥ 0 with an optional k, M or G suffix", s)
	}
	return int64(v * mult), nil
}

// FormatCount writes a count the way ParseCount reads it, as short as exact.
func FormatCount(n int64) string {
	for _, u := range []struct {
		div int64
		suf string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if n >= u.div && n%u.div == 0 {
			return strconv.FormatInt(n/u.div, 10) + u.suf
		}
	}
	return strconv.FormatInt(n, 10)
}
