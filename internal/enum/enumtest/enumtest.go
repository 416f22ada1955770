// Package enumtest checks a closed enumeration's String, Valid and Parse
// against each other, for the tests of the packages that declare one.
package enumtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// RoundTrip checks that every value below n parses back from its String
// and is Valid, that names are distinct, that n itself is not Valid and is
// named as undefined, and that bad input is an error whose message stays
// short however long the input.
func RoundTrip[T ~uint8](t *testing.T, n int, str func(T) string, parse func(string) (T, error), valid func(T) bool) {
	t.Helper()
	seen := map[string]bool{}
	for i := range n {
		v := T(i)
		s := str(v)
		assert.False(t, seen[s], "duplicate name %q", s)
		seen[s] = true
		got, err := parse(s)
		assert.NoError(t, err, "parse(%q)", s)
		assert.Equal(t, v, got, "parse(%q)", s)
		assert.True(t, valid(v), "%q not Valid", s)
	}
	bad := T(n)
	assert.False(t, valid(bad), "value %d Valid", n)
	assert.Contains(t, str(bad), fmt.Sprint(n), "String of undefined value %d", n)
	long := strings.Repeat("x", 10_000)
	for _, in := range []string{"", " ", str(bad), strings.ToUpper(str(0)) + "!", "\xff\xfe", long} {
		if _, err := parse(in); assert.Error(t, err, "parse(%.20q) succeeded", in) {
			assert.LessOrEqual(t, len(err.Error()), 200, "parse error for long input not clipped: %d bytes", len(err.Error()))
		}
	}
}
