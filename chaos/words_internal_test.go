package chaos

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// The word comparison answers as strings.HasPrefix for every prefix
// length, on both sides of the 8- and 16-byte bounds.
func TestWordsPrefixOfIsHasPrefix(t *testing.T) {
	t.Parallel()
	const op = "GET /api/items/{id}/reviews"
	for n := 0; n <= len(op); n++ {
		p := op[:n]
		w := wordsOf(p)
		for _, s := range []string{op, op[:n], op[:max(n-1, 0)], "", "GET /apx/items/{id}/reviews", "POST /api/items", strings.ToLower(op), op[:n] + "x"} {
			assert.Equal(t, strings.HasPrefix(s, p), w.prefixOf(s, p), "prefix %q of %q", p, s)
		}
		// A change in any one byte of a prefix long enough to use words.
		for i := 0; i < n; i++ {
			b := []byte(op)
			b[i] ^= 1
			assert.False(t, w.prefixOf(string(b), p), "prefix %q of %q", p, b)
		}
	}
}

func FuzzWordsPrefixOf(f *testing.F) {
	f.Add("GET /api/", "GET /api/items")
	f.Add("GET /api/items/{id}", "GET /api/items/{id}")
	f.Fuzz(func(t *testing.T, p, s string) {
		w := wordsOf(p)
		if got, want := w.prefixOf(s, p), strings.HasPrefix(s, p); got != want {
			t.Fatalf("prefixOf(%q, %q) = %v, want %v", s, p, got, want)
		}
	})
}

// The fields the fault gate reads for a call of a one-experiment view sit
// in the view's first 64 bytes, and the view fills a 128-byte size class,
// whose objects start on a cache line (activeSet's doc).
func TestActiveSetLayout(t *testing.T) {
	t.Parallel()
	var s activeSet
	assert.Equal(t, uintptr(128), unsafe.Sizeof(s))
	for name, end := range map[string]uintptr{
		"tiers":   unsafe.Offsetof(s.tiers) + unsafe.Sizeof(s.tiers),
		"scoped":  unsafe.Offsetof(s.scoped) + unsafe.Sizeof(s.scoped),
		"op":      unsafe.Offsetof(s.op) + unsafe.Sizeof(s.op),
		"expires": unsafe.Offsetof(s.expires) + unsafe.Sizeof(s.expires),
		"salt":    unsafe.Offsetof(s.salt) + unsafe.Sizeof(s.salt),
		"expCut":  unsafe.Offsetof(s.expCut) + unsafe.Sizeof(s.expCut),
		"one":     unsafe.Offsetof(s.one) + unsafe.Sizeof(s.one),
	} {
		assert.LessOrEqual(t, end, uintptr(64), name)
	}
}
