package registry

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/internal/clip"
)

// FleetConfig is the "fleet" section: where the Redis that shares the
// fleet's state is, and who this replica is. The registry only parses,
// validates and carries it (Registry.Fleet); it opens no connection.
// redisstore.Open reads it to build the client the fleet stores share.
//
// The file never holds a secret: the password is read from the environment
// variable PasswordEnv names, and a field that looks like a secret
// ("password", "token", a URL with credentials) is refused without being
// quoted back.
type FleetConfig struct {
	// Address is the server: "host:port" (TCP) or the absolute path of a
	// unix socket ("/run/redis/redis.sock"). Required.
	Address string `json:"address"`
	// DB is the logical database (SELECT). Zero is the default database.
	DB int `json:"db,omitempty"`
	// Username is the ACL user (AUTH username password); empty means the
	// default user. Not a secret.
	Username string `json:"username,omitempty"`
	// PasswordEnv names the environment variable that holds the password
	// (upper-case letters, digits and '_', as environment variables are
	// named). Empty means no password. redisstore.Open fails with a
	// *baldur.ConfigError naming fleet.password_env when the variable is
	// not set or empty.
	PasswordEnv string `json:"password_env,omitempty"`
	// TLS turns on TLS to the server.
	TLS FleetTLS `json:"tls,omitzero"`
	// ReplicaID names this process in the fleet (membership, logs). Empty
	// means hostname-pid, resolved when the registry loads the section.
	// Printable ASCII without spaces, at most 128 bytes.
	ReplicaID string `json:"replica_id,omitempty"`
	// Cluster names the fleet: replicas of one cluster share state, and
	// two clusters on one Redis never see each other's keys. Empty means
	// the configuration's service name, else "default". Letters, digits and
	// "-_.:", at most 64 bytes.
	Cluster string `json:"cluster,omitempty"`
	// ThrottleTimeout is the deadline of each Redis call on a request's
	// admission path (a fleet throttle's take). Zero means 5 ms; at most
	// 1 s.
	ThrottleTimeout Duration `json:"throttle_timeout,omitempty"`
	// ControlTimeout is the deadline of each Redis call on a control path
	// (governance reads and writes, locks, heartbeats) and of the start-up
	// ping. Zero means 250 ms; at most 10 s.
	ControlTimeout Duration `json:"control_timeout,omitempty"`
}

// FleetTLS is the TLS part of the fleet section.
type FleetTLS struct {
	// Enabled turns TLS on. The other fields require it.
	Enabled bool `json:"enabled,omitempty"`
	// ServerName is the name the server's certificate must carry. Empty
	// means the host of Address.
	ServerName string `json:"server_name,omitempty"`
	// CAFile is the path of a PEM file of the certificate authorities to
	// trust. Empty means the system's roots.
	CAFile string `json:"ca_file,omitempty"`
}

// Limits of the fleet section.
const (
	maxSocketPath      = 107 // sun_path holds 108 bytes with the NUL
	maxReplicaID       = 128
	maxCluster         = 64
	maxEnvName         = 128
	maxThrottleTimeout = baldur.Duration(1e9)
	maxControlTimeout  = baldur.Duration(10e9)
)

// Validate checks the section and returns a *baldur.ConfigError whose
// Field is the JSON path ("fleet.address", "fleet.tls.ca_file"). It reads
// no file and no environment variable: redisstore.Open does, and names the
// same paths.
func (f *FleetConfig) Validate() error {
	if err := validateAddress(f.Address); err != nil {
		return err
	}
	if f.DB < 0 {
		return fleetErr("db", strconv.Itoa(f.DB), "must not be negative")
	}
	if err := printable("username", f.Username, 256); err != nil {
		return err
	}
	if f.PasswordEnv != "" && !envName(f.PasswordEnv) {
		// Not quoted back: a value that is no variable name may be the
		// password itself.
		return fleetErr("password_env", "", "must name an environment variable (A-Z, 0-9 and _, not starting with a digit, at most 128 bytes), never hold the password itself")
	}
	if !f.TLS.Enabled {
		if f.TLS.ServerName != "" {
			return fleetErr("tls.server_name", strconv.Quote(clip.String(f.TLS.ServerName)), "requires tls.enabled true")
		}
		if f.TLS.CAFile != "" {
			return fleetErr("tls.ca_file", strconv.Quote(clip.String(f.TLS.CAFile)), "requires tls.enabled true")
		}
	}
	if err := printable("tls.server_name", f.TLS.ServerName, 253); err != nil {
		return err
	}
	if strings.ContainsRune(f.TLS.ServerName, ' ') {
		return fleetErr("tls.server_name", strconv.Quote(clip.String(f.TLS.ServerName)), "must be a host name")
	}
	if err := printable("tls.ca_file", f.TLS.CAFile, 4096); err != nil {
		return err
	}
	if f.TLS.Enabled && f.TLS.ServerName == "" && isSocket(f.Address) {
		return fleetErr("tls.server_name", "", "is required with TLS over a unix socket (there is no host to verify)")
	}
	if err := printable("replica_id", f.ReplicaID, maxReplicaID); err != nil {
		return err
	}
	if strings.ContainsRune(f.ReplicaID, ' ') {
		return fleetErr("replica_id", strconv.Quote(clip.String(f.ReplicaID)), "must not contain spaces")
	}
	if len(f.Cluster) > maxCluster {
		return fleetErr("cluster", strconv.Quote(clip.String(f.Cluster)), "must be at most 64 bytes")
	}
	for i := 0; i < len(f.Cluster); i++ {
		if c := f.Cluster[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.:", c) >= 0) {
			return fleetErr("cluster", strconv.Quote(clip.String(f.Cluster)), "must use only letters, digits and -_.:")
		}
	}
	if f.ThrottleTimeout < 0 || f.ThrottleTimeout > maxThrottleTimeout {
		return fleetErr("throttle_timeout", f.ThrottleTimeout.String(), "must be in 0..1s (zero means 5ms)")
	}
	if f.ControlTimeout < 0 || f.ControlTimeout > maxControlTimeout {
		return fleetErr("control_timeout", f.ControlTimeout.String(), "must be in 0..10s (zero means 250ms)")
	}
	return nil
}

// IsSocket reports whether Address is a unix socket path.
func (f *FleetConfig) IsSocket() bool { return isSocket(f.Address) }

func isSocket(addr string) bool { return strings.HasPrefix(addr, "/") }

func validateAddress(a string) error {
	switch {
	case a == "":
		return fleetErr("address", "", "is required: host:port or the path of a unix socket")
	case strings.Contains(a, "@") || strings.Contains(a, "://"):
		// redis://user:secret@host: not quoted back.
		return fleetErr("address", "", "must be host:port or a socket path, not a URL (a password belongs in the variable password_env names)")
	}
	if err := printable("address", a, 4096); err != nil {
		return err
	}
	if isSocket(a) {
		if len(a) > maxSocketPath {
			return fleetErr("address", strconv.Quote(clip.String(a)), "a unix socket path must be at most 107 bytes")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fleetErr("address", strconv.Quote(clip.String(a)), "must be host:port or an absolute unix socket path")
	}
	if host == "" || strings.ContainsRune(host, ' ') {
		return fleetErr("address", strconv.Quote(clip.String(a)), "must name a host")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fleetErr("address", strconv.Quote(clip.String(a)), "port must be a number in 1..65535")
	}
	return nil
}

// printable refuses control and non-ASCII bytes and values over max bytes.
func printable(field, v string, max int) error {
	if len(v) > max {
		return fleetErr(field, strconv.Quote(clip.String(v)), fmt.Sprintf("must be at most %d bytes", max))
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return fleetErr(field, strconv.Quote(clip.String(v)), "must be printable ASCII")
		}
	}
	return nil
}

func envName(s string) bool {
	if s == "" || len(s) > maxEnvName || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func fleetErr(field, value, reason string) error {
	return &baldur.ConfigError{Field: "fleet." + field, Value: value, Reason: reason}
}

// resolved returns f with its defaults filled in: the replica id
// (hostname-pid) and the cluster (service, else "default").
func (f FleetConfig) resolved(service string) FleetConfig {
	if f.ReplicaID == "" {
		f.ReplicaID = DefaultReplicaID()
	}
	if f.Cluster == "" {
		f.Cluster = "default"
		if s := clusterName(service); s != "" {
			f.Cluster = s
		}
	}
	return f
}

// clusterName returns service when it is a valid cluster name, else "".
func clusterName(service string) string {
	c := FleetConfig{Address: "/x", Cluster: service}
	if len(service) == 0 || c.Validate() != nil {
		return ""
	}
	return service
}

// DefaultReplicaID returns hostname-pid, the replica id of a fleet section
// that names none (characters a replica id may not hold become '_').
func DefaultReplicaID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	b := []byte(clip.String(host))
	for i, c := range b {
		if c <= 0x20 || c > 0x7e {
			b[i] = '_'
		}
	}
	return string(b) + "-" + strconv.Itoa(os.Getpid())
}

// secretWords are the field names refused in the fleet section with a
// reason that points at password_env. The decoder refuses every unknown
// field; these get the reason a user needs.
var secretWords = []string{"password", "passwd", "pass", "secret", "token", "auth", "credential", "credentials", "api_key", "apikey", "private_key"}

// explainSecretField rewrites the decoder's "unknown field" error for a
// secret-like field of the fleet section into one that says where the
// secret belongs. The value was never quoted (the decoder does not quote
// unknown fields), and still is not.
func explainSecretField(err error) error {
	var ce *baldur.ConfigError
	if !errors.As(err, &ce) || ce.Reason != "unknown field" || !strings.HasPrefix(ce.Field, "fleet.") {
		return err
	}
	name := strings.ToLower(ce.Field[strings.LastIndexByte(ce.Field, '.')+1:])
	for _, w := range secretWords {
		if strings.Contains(name, w) && name != "password_env" {
			return &baldur.ConfigError{Field: ce.Field, Reason: "looks like a secret: the file must not hold one; put the password in an environment variable and name it in fleet.password_env"}
		}
	}
	return err
}

// WithGovernanceStore puts s under the governance checker Load builds from
// the governance section, in place of the in-memory store (the default):
// a store shared by the fleet (redisstore) makes kill switches, the
// emergency state and break glass fleet-wide. It has no effect when the
// governance slot holds a checker the caller Set. Nil keeps the default.
func WithGovernanceStore(s governance.Store) Option {
	return func(r *Registry) {
		if s != nil {
			r.govStore = s
		}
	}
}

// Fleet returns a copy of the loaded fleet section, defaults resolved
// (replica id, cluster), or nil when the loaded configuration has none.
func (r *Registry) Fleet() *FleetConfig {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fleet == nil {
		return nil
	}
	c := *r.fleet
	return &c
}

// loadFleet validates the section of cfg and returns it resolved. A
// registry that loaded a fleet section keeps it: r.mu is held; a reload that changes it
// (or adds or removes it) is refused, since the stores were opened from
// the first one and cannot follow.
func (r *Registry) loadFleet(cfg *Config) (*FleetConfig, error) {
	var next *FleetConfig
	if cfg.Fleet != nil {
		if err := cfg.Fleet.Validate(); err != nil {
			return nil, err
		}
		f := cfg.Fleet.resolved(cfg.Service)
		next = &f
	}
	if !r.loaded {
		return next, nil
	}
	prev := r.fleet
	if (prev == nil) != (next == nil) || prev != nil && *prev != *next {
		return nil, &baldur.ConfigError{Field: "fleet", Reason: "cannot change on reload: the fleet stores were opened from the section loaded first; restart the process to change it"}
	}
	return prev, nil
}
