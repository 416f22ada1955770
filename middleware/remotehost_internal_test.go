package middleware

import (
	"strings"
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

// remoteHostByScans is remoteHost as two library scans: the oracle of the
// fuzz test.
func remoteHostByScans(remote string) string {
	host := remote
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			host = host[1:end]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		host = host[:i]
	}
	return host
}

func FuzzRemoteHost(f *testing.F) {
	for _, s := range []string{"10.0.3.17:54321", "[2001:db8::1]:443", "::1", "host:", ":80", "[::1", "[]:80", "@", "", "a:b:c", "]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, remote string) {
		got := remoteHost(remote)
		if want := remoteHostByScans(remote); got != want {
			t.Fatalf("remoteHost(%q) = %q, want %q", remote, got, want)
		}
		if !strings.Contains(remote, got) {
			t.Fatalf("remoteHost(%q) = %q, not a substring", remote, got)
		}
	})
}
