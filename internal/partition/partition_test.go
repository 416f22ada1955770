package partition

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClipKey(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", MaxKeyLen)
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"tenant-1", "tenant-1"},
		{long, long},
		{long + "x", long},
		{long + strings.Repeat("x", 10_000), long},
	} {
		assert.Equal(t, tc.want, ClipKey(tc.in), "%d bytes", len(tc.in))
	}
}
