package middleware_test

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/middleware"
)

// An IPv4-mapped range trusts the IPv4 peers it maps, as the gRPC
// interceptors' and the admin server's trusted ranges do.
func TestTrustedProxiesMappedRange(t *testing.T) {
	t.Parallel()
	tp, err := middleware.ParseTrustedProxies("::ffff:10.0.0.0/104", "::ffff:192.0.2.1")
	require.NoError(t, err)
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true}, {"::ffff:10.1.2.3", true}, {"11.0.0.1", false},
		{"192.0.2.1", true}, {"192.0.2.2", false},
	} {
		assert.Equal(t, tc.want, tp.Contains(netip.MustParseAddr(tc.addr)), tc.addr)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.9.9.9:1234"
	r.Header.Set("X-Forwarded-For", "203.0.113.5")
	assert.Equal(t, "203.0.113.5", tp.ClientIP(r))
}
