package clip

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", Max)
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"critical", "critical"},
		{long, long},
		{long + "b", long + "..."},
		{long + strings.Repeat("b", 1000), long + "..."},
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%d bytes) = %q, want %q", len(tc.in), got, tc.want)
		}
	}
}
