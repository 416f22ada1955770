package clip

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
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
		assert.Equal(t, tc.want, String(tc.in), "String(%d bytes)", len(tc.in))
	}
}
