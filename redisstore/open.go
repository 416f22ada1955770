package redisstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/clip"
	"github.com/baldur-go/baldur/registry"
	"github.com/redis/go-redis/v9"
)

// OpenOption adjusts what Open builds.
type OpenOption func(*openSettings)

type openSettings struct {
	cfg  Config
	edit func(*redis.Options)
}

// WithBackendConfig gives Open the Backend's Config (breaker, clock,
// logger, scripts). The fleet section's throttle_timeout and
// control_timeout, when set, take precedence over cfg's. cfg.Scripts are
// also loaded on every new connection (OnConnect).
func WithBackendConfig(cfg Config) OpenOption { return func(s *openSettings) { s.cfg = cfg } }

// WithClientOptions lets edit change the go-redis options Open built
// before the client is made (pool size, a dial hook, a limiter). The
// result is still checked: edit cannot turn off ContextTimeoutEnabled or
// turn on retries without Open failing with a *baldur.ConfigError.
func WithClientOptions(edit func(*redis.Options)) OpenOption {
	return func(s *openSettings) { s.edit = edit }
}

// Client options Open uses beside the fleet section's. A call's context
// bounds it first; these bound what no context does.
const (
	// openPoolTimeout is how long a call waits for a free connection: a
	// store answers a call that would wait longer with its fail mode.
	openPoolTimeout = 10 * time.Millisecond
	// openMinIdle connections are kept open so that the first calls after
	// a quiet spell do not dial.
	openMinIdle = 2
)

// Open builds a go-redis client from the fleet section of the
// configuration (registry.Registry.Fleet, or a FleetConfig built in Go),
// with the options the stores' promises need, and returns the Backend
// over it (see New: the client is checked, the server pinged and
// cfg.Scripts loaded within the control timeout):
//
//   - ContextTimeoutEnabled: a call's deadline bounds its socket reads;
//   - MaxRetries -1: a script whose reply was lost is never re-sent;
//   - PoolTimeout 10 ms, DialTimeout the control timeout with one dial
//     retry, Read/WriteTimeout twice the control timeout (backstops for a
//     call without a deadline), two idle connections kept;
//   - the password from the environment variable fleet.password_env names;
//   - TLS 1.2 or later when fleet.tls.enabled, verifying fleet.tls.server_name
//     (default: the host of the address) against fleet.tls.ca_file (default:
//     the system roots).
//
// Errors: an invalid section, an unset password variable, an unreadable CA
// file, or a password the server refuses (NOAUTH, WRONGPASS) is a
// *baldur.ConfigError naming the fleet.* path; a server that cannot be
// reached in time is an *UnavailableError naming the address.
//
// The Backend does not close the client: call b.Client().Close() when the
// stores are done.
func Open(ctx context.Context, fc registry.FleetConfig, opts ...OpenOption) (*Backend, error) {
	var s openSettings
	for _, o := range opts {
		o(&s)
	}
	o, err := ClientOptions(fc)
	if err != nil {
		return nil, err
	}
	cfg := s.cfg
	if fc.ThrottleTimeout > 0 {
		cfg.ThrottleTimeout = fc.ThrottleTimeout.D()
	}
	if fc.ControlTimeout > 0 {
		cfg.ControlTimeout = fc.ControlTimeout.D()
	}
	if len(cfg.Scripts) > 0 {
		o.OnConnect = OnConnect(nil, cfg.Scripts...)
	}
	if s.edit != nil {
		s.edit(o)
	}
	c := redis.NewClient(o)
	b, err := New(ctx, c, cfg)
	if err != nil {
		_ = c.Close()
		return nil, authError(fc, err)
	}
	return b, nil
}

// ClientOptions returns the go-redis options Open builds from fc (fc is
// validated first), for callers that build their client themselves. It
// reads the password variable and the CA file; its errors are those of
// Open's configuration.
func ClientOptions(fc registry.FleetConfig) (*redis.Options, error) {
	if err := fc.Validate(); err != nil {
		return nil, err
	}
	control := DefaultControlTimeout
	if fc.ControlTimeout > 0 {
		control = fc.ControlTimeout.D()
	}
	o := &redis.Options{
		Network:               "tcp",
		Addr:                  fc.Address,
		DB:                    fc.DB,
		Username:              fc.Username,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialTimeout:           control,
		DialerRetries:         1,
		ReadTimeout:           2 * control,
		WriteTimeout:          2 * control,
		PoolTimeout:           openPoolTimeout,
		MinIdleConns:          openMinIdle,
	}
	if fc.IsSocket() {
		o.Network = "unix"
	}
	if fc.PasswordEnv != "" {
		pw, ok := os.LookupEnv(fc.PasswordEnv)
		switch {
		case !ok:
			return nil, &baldur.ConfigError{Field: "fleet.password_env", Value: fc.PasswordEnv, Reason: "names an environment variable that is not set"}
		case pw == "":
			return nil, &baldur.ConfigError{Field: "fleet.password_env", Value: fc.PasswordEnv, Reason: "names an environment variable that is empty"}
		}
		o.Password = pw
	}
	if fc.TLS.Enabled {
		tc, err := tlsConfig(fc)
		if err != nil {
			return nil, err
		}
		o.TLSConfig = tc
	}
	return o, nil
}

func tlsConfig(fc registry.FleetConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: fc.TLS.ServerName}
	if tc.ServerName == "" {
		host, _, err := net.SplitHostPort(fc.Address)
		if err != nil { // Validate requires a server name for sockets
			return nil, &baldur.ConfigError{Field: "fleet.tls.server_name", Reason: "is required: the address names no host"}
		}
		tc.ServerName = host
	}
	if fc.TLS.CAFile != "" {
		pem, err := os.ReadFile(fc.TLS.CAFile)
		if err != nil {
			return nil, &baldur.ConfigError{Field: "fleet.tls.ca_file", Value: strconv.Quote(clip.String(fc.TLS.CAFile)), Reason: "cannot be read: " + errReason(err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &baldur.ConfigError{Field: "fleet.tls.ca_file", Value: strconv.Quote(clip.String(fc.TLS.CAFile)), Reason: "holds no PEM certificate"}
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

func errReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// authError turns the server's refusal of the credentials into a
// *baldur.ConfigError naming fleet.password_env; other errors pass.
func authError(fc registry.FleetConfig, err error) error {
	if !isReply(err) {
		return err
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "NOAUTH"):
		return &baldur.ConfigError{Field: "fleet.password_env", Value: fc.PasswordEnv,
			Reason: "the server requires a password (NOAUTH): name the environment variable that holds it"}
	case strings.HasPrefix(msg, "WRONGPASS"), strings.Contains(msg, "invalid password"),
		strings.Contains(msg, "without any password configured"):
		return &baldur.ConfigError{Field: "fleet.password_env", Value: fc.PasswordEnv,
			Reason: "the server refused the credentials: " + clip.String(msg)}
	}
	return err
}
