package trust

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestList(t *testing.T) {
	t.Parallel()
	in := []netip.Prefix{
		netip.MustParsePrefix("10.1.2.3/8"), // masked
		{},                                  // invalid: dropped
		netip.MustParsePrefix("::ffff:192.168.0.0/112"), // IPv4-mapped: 192.168.0.0/16
		netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("203.0.113.9/32"),
	}
	l := New(in)
	assert.False(t, l.Empty())
	assert.Len(t, l.prefixes, 4)
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.200.0.1", true},
		{"::ffff:10.200.0.1", true}, // a mapped peer matches an IPv4 range
		{"11.0.0.1", false},
		{"192.168.7.7", true},
		{"::ffff:192.168.7.7", true},
		{"192.169.0.1", false},
		{"fd12::1", true},
		{"fe80::1", false},
		{"203.0.113.9", true},
		{"203.0.113.10", false},
	} {
		assert.Equal(t, tc.want, l.Contains(netip.MustParseAddr(tc.addr)), tc.addr)
	}
	assert.False(t, l.Contains(netip.Addr{}))
	in[0] = netip.MustParsePrefix("0.0.0.0/0")
	assert.False(t, l.Contains(netip.MustParseAddr("11.0.0.1")), "the caller's slice is copied")
}

func TestZeroListTrustsNobody(t *testing.T) {
	t.Parallel()
	var l List
	assert.True(t, l.Empty())
	assert.True(t, New(nil).Empty())
	assert.True(t, New([]netip.Prefix{{}}).Empty())
	assert.False(t, l.Contains(netip.MustParseAddr("127.0.0.1")))
}

func TestContainsAllocatesNothing(t *testing.T) {
	l := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")})
	a := netip.MustParseAddr("fd00::1")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = l.Contains(a) }))
}
