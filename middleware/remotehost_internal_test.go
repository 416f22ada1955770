package middleware

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRemoteHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"10.0.3.17:54321", "10.0.3.17"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[fe80::1%eth0]:80", "fe80::1%eth0"},
		{"2001:db8::1", "2001:db8::1"},
		{"::1", "::1"},
		{"10.0.3.17", "10.0.3.17"},
		{"host:", "host"},
		{":80", ""},
		{"[::1", "[::1"},
		{"[]:80", ""},
		{"@", "@"},
		{"", ""},
	} {
		assert.Equal(t, tc.want, remoteHost(tc.in), "%q", tc.in)
	}
}
