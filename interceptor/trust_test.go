package interceptor

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// An IPv4-mapped trusted range trusts the IPv4 peers it maps.
func TestTrustedPeersMappedRange(t *testing.T) {
	t.Parallel()
	c := newConfig([]Option{WithTrustedPeers([]netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")})})
	call := c.serverCall(peerCtx("10.0.0.1:1", MetadataKey, "tenant"), "/s/M", baldurNow)
	require.Equal(t, "tenant", call.Key)
	call = c.serverCall(peerCtx("11.0.0.1:1", MetadataKey, "tenant"), "/s/M", baldurNow)
	require.Equal(t, "11.0.0.1", call.Key)
}
