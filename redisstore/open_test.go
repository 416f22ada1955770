package redisstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/baldur-go/baldur/registry"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// open opens fc and closes the client when t ends.
func open(t *testing.T, fc registry.FleetConfig, opts ...OpenOption) (*Backend, error) {
	t.Helper()
	b, err := Open(openCtx(t), fc, opts...)
	if err == nil {
		t.Cleanup(func() { b.Client().Close() })
	}
	return b, err
}

// roundTrip writes and reads a key through b.
func roundTrip(t *testing.T, b *Backend, key string) {
	t.Helper()
	ctx := openCtx(t)
	require.NoError(t, b.Client().Set(ctx, key, "v", time.Minute).Err())
	v, err := b.Client().Get(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, "v", v)
}

// TestOpenUnixSocket: a socket path opens a unix client with the options
// the stores need, on the section's database, with its timeouts.
func TestOpenUnixSocket(t *testing.T) {
	t.Parallel()
	srv := shared.Get(t)
	b, err := open(t, registry.FleetConfig{Address: srv.Socket(), DB: 3,
		ThrottleTimeout: baldur.Duration(3 * time.Millisecond), ControlTimeout: baldur.Duration(80 * time.Millisecond)},
		WithBackendConfig(Config{Logger: discard(), Scripts: []*Script{GCRAScript}}))
	require.NoError(t, err)
	key := prefix(t) + "k"
	roundTrip(t, b, key)

	o := b.Client().(*redis.Client).Options()
	assert.Equal(t, "unix", o.Network)
	assert.True(t, o.ContextTimeoutEnabled)
	assert.Equal(t, 0, o.MaxRetries, "go-redis holds the -1 it was given as 0: no retries")
	assert.Equal(t, 10*time.Millisecond, o.PoolTimeout)
	assert.Equal(t, 80*time.Millisecond, o.DialTimeout)
	assert.Equal(t, 160*time.Millisecond, o.ReadTimeout)
	assert.NotNil(t, o.OnConnect, "scripts are loaded on every new connection")
	assert.Equal(t, 3*time.Millisecond, b.Guard(prefix(t)+"t", ClassThrottle).Timeout())
	assert.Equal(t, 80*time.Millisecond, b.Guard(prefix(t)+"c", ClassControl).Timeout())

	// The key is in database 3, not 0.
	db3 := srv.Client(t, func(o *redis.Options) { o.DB = 3 })
	assert.Equal(t, int64(1), db3.Exists(openCtx(t), key).Val())
	assert.Equal(t, int64(0), srv.Client(t, nil).Exists(openCtx(t), key).Val())
}

// TestOpenTCPThroughProxy: host:port opens a TCP client; an address that
// refuses, or one that accepts and never answers, is an *UnavailableError
// naming it, within the control timeout.
func TestOpenTCPThroughProxy(t *testing.T) {
	redistest.NoLeaks(t)
	srv := redistest.Start(t, redistest.Options{})
	px := redistest.NewProxy(t, "unix", srv.Socket())
	fc := registry.FleetConfig{Address: px.Addr(), ControlTimeout: baldur.Duration(100 * time.Millisecond)}
	b, err := open(t, fc, WithBackendConfig(Config{Logger: discard()}))
	require.NoError(t, err)
	assert.Equal(t, "tcp", b.Client().(*redis.Client).Options().Network)
	roundTrip(t, b, "tcp")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())

	px.Blackhole()
	defer px.Heal()
	for _, tc := range []struct{ name, addr string }{
		{"refused", closed},
		{"blackholed", px.Addr()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := fc
			fc.Address = tc.addr
			start := time.Now()
			_, err := open(t, fc)
			elapsed := time.Since(start)
			var ue *UnavailableError
			require.ErrorAs(t, err, &ue)
			assert.ErrorIs(t, err, ErrUnavailable)
			assert.Equal(t, tc.addr, ue.Addr)
			assert.Equal(t, "ping", ue.Store)
			assert.Less(t, elapsed, 100*time.Millisecond+400*time.Millisecond, "bounded by the control timeout")
		})
	}
}

// TestOpenPassword: the password comes from the variable password_env
// names; a variable that is not set or empty, a wrong password and a
// missing one are *baldur.ConfigErrors naming fleet.password_env, and no
// error quotes the password.
func TestOpenPassword(t *testing.T) {
	const pw = "open-test-Pa55word"
	srv := redistest.Start(t, redistest.Options{})
	srv.Do(t, "CONFIG", "SET", "requirepass", pw) // after start-up: the harness pings without a password
	t.Cleanup(func() {                            // so that the harness's SHUTDOWN NOSAVE is obeyed
		c := srv.Client(t, func(o *redis.Options) { o.Password = pw })
		_ = c.ConfigSet(context.Background(), "requirepass", "").Err()
	})
	base := registry.FleetConfig{Address: srv.Socket()}
	t.Setenv("BALDUR_TEST_PW", pw)
	t.Setenv("BALDUR_TEST_WRONG", "not-the-password")
	t.Setenv("BALDUR_TEST_EMPTY", "")
	os.Unsetenv("BALDUR_TEST_UNSET")

	ok := base
	ok.PasswordEnv = "BALDUR_TEST_PW"
	b, err := open(t, ok, WithBackendConfig(Config{Logger: discard()}))
	require.NoError(t, err)
	roundTrip(t, b, "pw")

	for _, tc := range []struct{ env, reason string }{
		{"BALDUR_TEST_UNSET", "not set"},
		{"BALDUR_TEST_EMPTY", "empty"},
		{"BALDUR_TEST_WRONG", "refused the credentials"},
		{"", "requires a password"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			fc := base
			fc.PasswordEnv = tc.env
			_, err := open(t, fc, WithBackendConfig(Config{Logger: discard()}))
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "fleet.password_env", ce.Field)
			assert.Equal(t, tc.env, ce.Value)
			assert.Contains(t, ce.Reason, tc.reason)
			assert.NotContains(t, err.Error(), pw)
			assert.NotContains(t, err.Error(), "not-the-password")
		})
	}
}

// TestOpenTLS: with tls.enabled the client verifies the server's
// certificate against tls.ca_file and the server name; an untrusted
// certificate or a wrong name fails the handshake (*UnavailableError), an
// unreadable or empty CA file is a *baldur.ConfigError naming
// fleet.tls.ca_file.
func TestOpenTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestPKI(t, dir)
	var (
		srv  *redistest.Server
		port int
	)
	for attempt := 0; srv == nil && attempt < 3; attempt++ {
		port = freePort(t)
		s, err := redistest.Launch(redistest.Options{Args: []string{
			"--tls-port", strconv.Itoa(port), "--tls-cert-file", certFile, "--tls-key-file", keyFile,
			"--tls-ca-cert-file", caFile, "--tls-auth-clients", "no",
		}})
		if err == nil {
			srv = s
			t.Cleanup(s.Close)
		} else if attempt == 2 {
			redistest.Binary(t) // skips (or fails when required) without a server
			require.NoError(t, err)
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	tlsOn := func(serverName, ca string) registry.FleetConfig {
		return registry.FleetConfig{Address: addr, ControlTimeout: baldur.Duration(time.Second),
			TLS: registry.FleetTLS{Enabled: true, ServerName: serverName, CAFile: ca}}
	}
	quiet := WithBackendConfig(Config{Logger: discard()})

	b, err := open(t, tlsOn("redis.test", caFile), quiet)
	require.NoError(t, err)
	roundTrip(t, b, "tls")
	tc := b.Client().(*redis.Client).Options().TLSConfig
	require.NotNil(t, tc)
	assert.Equal(t, "redis.test", tc.ServerName)

	for name, fc := range map[string]registry.FleetConfig{
		"system roots": tlsOn("redis.test", ""),
		"wrong name":   tlsOn("other.test", caFile),
		"host as name": tlsOn("", caFile), // the certificate names redis.test, not 127.0.0.1
		"plain to TLS": {Address: addr, ControlTimeout: baldur.Duration(200 * time.Millisecond)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := open(t, fc, quiet)
			assert.ErrorIs(t, err, ErrUnavailable)
		})
	}
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	for name, tc := range map[string]struct{ file, reason string }{
		"missing": {filepath.Join(dir, "absent.pem"), "cannot be read: no such file"},
		"not PEM": {notPEM, "no PEM certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := open(t, tlsOn("redis.test", tc.file), quiet)
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "fleet.tls.ca_file", ce.Field)
			assert.Contains(t, ce.Reason, tc.reason)
		})
	}
}

// TestOpenRefusesUnsafeEditsAndInvalidSections: WithClientOptions cannot
// undo what correctness needs, and a section built in Go is validated as
// a file's is.
func TestOpenRefusesUnsafeEditsAndInvalidSections(t *testing.T) {
	t.Parallel()
	sock := shared.Get(t).Socket()
	for _, tc := range []struct {
		name  string
		fc    registry.FleetConfig
		edit  func(*redis.Options)
		field string
	}{
		{"retries", registry.FleetConfig{Address: sock}, func(o *redis.Options) { o.MaxRetries = 3 }, "MaxRetries"},
		{"no context deadlines", registry.FleetConfig{Address: sock}, func(o *redis.Options) { o.ContextTimeoutEnabled = false }, "ContextTimeoutEnabled"},
		{"no address", registry.FleetConfig{}, nil, "fleet.address"},
		{"URL", registry.FleetConfig{Address: "redis://:pw@h:1"}, nil, "fleet.address"},
		{"bad env name", registry.FleetConfig{Address: sock, PasswordEnv: "the password"}, nil, "fleet.password_env"},
		{"throttle timeout", registry.FleetConfig{Address: sock, ThrottleTimeout: baldur.Duration(time.Hour)}, nil, "fleet.throttle_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := open(t, tc.fc, WithClientOptions(tc.edit))
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
		})
	}
}

// FuzzClientOptions builds client options from arbitrary sections: never a
// panic; when accepted, the options always carry what correctness needs
// and match the address's kind.
func FuzzClientOptions(f *testing.F) {
	f.Add("127.0.0.1:6379", 0, "", false, "", "")
	f.Add("/tmp/r.sock", 3, "PATH", false, "", "")
	f.Add("[::1]:1", 1, "", true, "", "")
	f.Add("/r.sock", 0, "", true, "name", "")
	f.Add("h:1", -1, "lower", true, "", "/nonexistent")
	f.Fuzz(func(t *testing.T, addr string, db int, env string, tlsOn bool, name, ca string) {
		if ca != "" && !strings.HasPrefix(ca, "/nonexistent") {
			ca = "/nonexistent/" + ca // never read a real file
		}
		fc := registry.FleetConfig{Address: addr, DB: db, PasswordEnv: env,
			TLS: registry.FleetTLS{Enabled: tlsOn, ServerName: name, CAFile: ca}}
		o, err := ClientOptions(fc)
		if err != nil {
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			require.True(t, strings.HasPrefix(ce.Field, "fleet."), ce.Field)
			return
		}
		require.True(t, o.ContextTimeoutEnabled)
		require.Equal(t, -1, o.MaxRetries)
		require.Equal(t, addr, o.Addr)
		require.Equal(t, strings.HasPrefix(addr, "/"), o.Network == "unix")
		require.Equal(t, tlsOn, o.TLSConfig != nil)
		if o.TLSConfig != nil {
			require.NotEmpty(t, o.TLSConfig.ServerName)
		}
		require.NoError(t, CheckClient(redis.NewClient(o)))
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeTestPKI writes a CA and a server certificate for redis.test signed
// by it, and returns the paths of the CA, the certificate and its key.
func writeTestPKI(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "baldur test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "redis.test"},
		DNSNames: []string{"redis.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", leafDER), write("server.key", "EC PRIVATE KEY", keyDER)
}
