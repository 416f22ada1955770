package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/admin"
)

func TestHeaderResolverContract(t *testing.T) {
	t.Parallel()
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name     string
		r        admin.HeaderResolver
		h        baldur.HeaderGetter
		trusted  bool
		wantUser string
		wantOK   bool
	}{
		{"untrusted", admin.HeaderResolver{}, hdr("X-Forwarded-Email", "alice@example.com"), false, "", false},
		{"absent", admin.HeaderResolver{}, hdr(), true, "", false},
		{"nil getter", admin.HeaderResolver{}, nil, true, "", false},
		{"empty", admin.HeaderResolver{}, hdr("X-Forwarded-Email", ""), true, "", false},
		{"whitespace", admin.HeaderResolver{}, hdr("X-Forwarded-Email", " \t "), true, "", false},
		{"valid", admin.HeaderResolver{}, hdr("X-Forwarded-Email", "alice@example.com"), true, "alice@example.com", true},
		{"trimmed", admin.HeaderResolver{}, hdr("X-Forwarded-Email", "  bob@example.com "), true, "bob@example.com", true},
		{"unicode", admin.HeaderResolver{}, hdr("X-Forwarded-Email", "josé@exämple.com"), true, "josé@exämple.com", true},
		{"custom header", admin.HeaderResolver{Header: "X-Auth-User"}, hdr("X-Auth-User", "carol"), true, "carol", true},
		{"custom header ignores default", admin.HeaderResolver{Header: "X-Auth-User"}, hdr("X-Forwarded-Email", "carol"), true, "", false},
		{"control char", admin.HeaderResolver{}, hdr("X-Forwarded-Email", "eve@x\x1b[31m"), true, "", false},
		{"newline", admin.HeaderResolver{}, hdr("X-Forwarded-Email", "eve\nlevel=ERROR"), true, "", false},
		{"invalid utf8", admin.HeaderResolver{}, hdr("X-Forwarded-Email", "eve\xff@x"), true, "", false},
		{"at max len", admin.HeaderResolver{}, hdr("X-Forwarded-Email", strings.Repeat("a", admin.DefaultMaxIdentityLen)), true, strings.Repeat("a", admin.DefaultMaxIdentityLen), true},
		{"over max len", admin.HeaderResolver{}, hdr("X-Forwarded-Email", strings.Repeat("a", admin.DefaultMaxIdentityLen+1)), true, "", false},
		{"custom max len", admin.HeaderResolver{MaxLen: 3}, hdr("X-Forwarded-Email", "dave"), true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, ok := tt.r.Resolve(context.Background(), tt.h, tt.trusted)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantUser, p.Username)
		})
	}
}

func TestHeaderResolverAllocatesNothing(t *testing.T) {
	h := http.Header{"X-Forwarded-Email": {"alice@example.com"}}
	r := admin.HeaderResolver{}
	ctx := context.Background()
	n := testing.AllocsPerRun(100, func() { r.Resolve(ctx, h, true) })
	require.Zero(t, n, "Resolve allocates")
}
