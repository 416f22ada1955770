package admin_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/registry"
)

func TestNewConfigErrors(t *testing.T) {
	t.Parallel()
	reg := registry.New()
	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	tests := []struct {
		name  string
		cfg   admin.Config
		field string
	}{
		{"no registry", admin.Config{OperatorKey: operatorKey}, "Registry"},
		{"short operator key", admin.Config{Registry: reg, OperatorKey: "short"}, "OperatorKey"},
		{"15-byte viewer key", admin.Config{Registry: reg, ViewerKey: strings.Repeat("k", 15)}, "ViewerKey"},
		{"key with space", admin.Config{Registry: reg, OperatorKey: "has a space in it!!"}, "OperatorKey"},
		{"key with control char", admin.Config{Registry: reg, OperatorKey: "0123456789abcdef\x00"}, "OperatorKey"},
		{"same keys", admin.Config{Registry: reg, OperatorKey: operatorKey, ViewerKey: operatorKey}, "ViewerKey"},
		{"no way in", admin.Config{Registry: reg}, "OperatorKey"},
		{"config dir missing", admin.Config{Registry: reg, OperatorKey: operatorKey, ConfigDir: "/nonexistent/baldur"}, "ConfigDir"},
		{"config dir is a file", admin.Config{Registry: reg, OperatorKey: operatorKey, ConfigDir: file}, "ConfigDir"},
		{"zero trusted proxy prefix", admin.Config{Registry: reg, OperatorKey: operatorKey,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}}}, "TrustedProxies[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := admin.New(tt.cfg)
			var ce *baldur.ConfigError
			require.True(t, errors.As(err, &ce), "error %v, want a *baldur.ConfigError", err)
			assert.Equal(t, tt.field, ce.Field)
			for _, k := range []string{tt.cfg.OperatorKey, tt.cfg.ViewerKey} {
				if k != "" {
					assert.NotContains(t, err.Error(), k, "a key leaked into the error")
				}
			}
		})
	}
}

func TestNewValidConfigs(t *testing.T) {
	t.Parallel()
	reg := registry.New()
	for _, cfg := range []admin.Config{
		{Registry: reg, OperatorKey: operatorKey},
		{Registry: reg, ViewerKey: viewerKey},
		{Registry: reg, AllowNoKeyFromLoopback: true},
		{Registry: reg, OperatorKey: strings.Repeat("k", admin.MinKeyLen), ConfigDir: t.TempDir()},
	} {
		_, err := admin.New(cfg)
		assert.NoError(t, err)
	}
}

func TestAccessString(t *testing.T) {
	t.Parallel()
	for a, want := range map[admin.Access]string{admin.AccessPublic: "PUBLIC", admin.AccessViewer: "VIEWER",
		admin.AccessOperator: "OPERATOR", admin.AccessAdmin: "ADMIN", admin.Access(9): "UNKNOWN"} {
		assert.Equal(t, want, a.String())
	}
}
