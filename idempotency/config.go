package idempotency

import (
	"fmt"
	"github.com/baldur-go/baldur/internal/glob"
	"net/http"
	"strconv"
	"strings"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/enum"
)

// Mode is what a duplicate of a completed request gets.
type Mode uint8

const (
	// ModeReplay answers with the stored response, byte for byte, marked
	// Idempotent-Replayed: true (the HTTP and gRPC default).
	ModeReplay Mode = iota
	// ModeReject answers 409 (ALREADY_EXISTS, ErrDuplicateKey): the
	// original system's semantics, and the step API's.
	ModeReject
)

var modeNames = enum.New[Mode]("idempotency mode", "replay", "reject")

// String returns "replay" or "reject".
func (m Mode) String() string { return modeNames.String(m) }

// ParseMode returns the mode named s.
func ParseMode(s string) (Mode, error) { return modeNames.Parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err == nil {
		*m = v
	}
	return err
}

// Defaults of Config.
const (
	DefaultMaxBody   = 1 << 20
	DefaultMaxStored = 64 << 10
)

// DefaultMethods are the methods the middleware guards by default.
var DefaultMethods = []string{http.MethodPost, http.MethodPatch}

// DefaultHeaders are the response headers stored and replayed by default.
var DefaultHeaders = []string{"Content-Type", "Content-Encoding", "Content-Language", "Location", "Etag", "Last-Modified"}

// Config is the "idempotency" section of the registry's JSON tree and the
// protocol part of HTTPOptions and the gRPC options. Zero fields take the
// defaults named on each.
type Config struct {
	// Store names the ledger the service wires: "redis" (the default, one
	// ledger for the fleet) or "memory" (per process; refused when
	// Production is set unless AllowMemoryInProduction).
	Store string `json:"store,omitempty"`
	// TTL is how long a completion is remembered. Default 30m.
	TTL baldur.Duration `json:"ttl,omitempty"`
	// Lease is how long a claim holds its key without a heartbeat (a
	// crashed holder frees it within this time); heartbeats run every
	// Lease/3. Default 10s.
	Lease baldur.Duration `json:"lease,omitempty"`
	// Grace is added to a request's deadline to bound the claim of a holder
	// that keeps heartbeating. Default 5s.
	Grace baldur.Duration `json:"grace,omitempty"`
	// Methods are the guarded methods; others pass through untouched.
	// Default POST, PATCH.
	Methods []string `json:"methods,omitempty"`
	// MaxBody bounds the request body read for the fingerprint: larger
	// bodies get 413. Default 1 MiB.
	MaxBody int64 `json:"max_body,omitempty"`
	// MaxStored bounds the response body stored for replay; a larger one
	// completes the record without it, and duplicates get 409. Default
	// 64 KiB.
	MaxStored int `json:"max_stored,omitempty"`
	// Mode is what duplicates of a completed request get. Default replay.
	Mode Mode `json:"mode,omitempty"`
	// Require answers 400 to a guarded request without a key; false lets
	// it through unguarded (counted as missing).
	Require bool `json:"require,omitempty"`
	// Headers are the response headers stored and replayed. Default
	// DefaultHeaders.
	Headers []string `json:"headers,omitempty"`
	// Routes override the above per operation; the first match wins.
	Routes []Route `json:"routes,omitempty"`
	// Production says the service runs as a fleet: a memory store is
	// refused unless AllowMemoryInProduction.
	Production              bool `json:"production,omitempty"`
	AllowMemoryInProduction bool `json:"allow_memory_in_production,omitempty"`
}

// Route is a per-operation rule.
type Route struct {
	// Match is an operation (a ServeMux pattern such as "POST /orders", or
	// a gRPC full method), with '*' matching any run of characters.
	Match string `json:"match"`
	// Off passes the operation through unguarded.
	Off bool `json:"off,omitempty"`
	// Require overrides Config.Require.
	Require *bool `json:"require,omitempty"`
	// Mode overrides Config.Mode.
	Mode *Mode `json:"mode,omitempty"`
	// FailOpen runs the handler, unguarded and counted (fail_open), when
	// the ledger cannot be reached, instead of answering 503.
	FailOpen bool `json:"fail_open,omitempty"`
}

// Validate checks c; the error is a *baldur.ConfigError naming the field
// by its JSON name. Constructors call it, once.
func (c *Config) Validate() error {
	switch c.Store {
	case "", "redis", "memory":
	default:
		return &baldur.ConfigError{Field: "store", Value: c.Store, Reason: `must be "redis" or "memory"`}
	}
	if c.Store == "memory" && c.Production && !c.AllowMemoryInProduction {
		return &baldur.ConfigError{Field: "store", Value: "memory", Reason: "is per process and refused in production (set allow_memory_in_production to accept it)"}
	}
	for _, d := range []struct {
		name string
		v    baldur.Duration
	}{{"ttl", c.TTL}, {"lease", c.Lease}, {"grace", c.Grace}} {
		if d.v < 0 || d.v.D() > 7*24*60*60*1e9 {
			return &baldur.ConfigError{Field: d.name, Value: d.v.String(), Reason: "must be between 0 (default) and 168h"}
		}
	}
	if c.Lease > 0 && c.TTL > 0 && c.Lease > c.TTL {
		return &baldur.ConfigError{Field: "lease", Value: c.Lease.String(), Reason: "must not exceed ttl"}
	}
	for i, m := range c.Methods {
		if m == "" || strings.ToUpper(m) != m || strings.ContainsAny(m, " \t") {
			return &baldur.ConfigError{Field: "methods[" + strconv.Itoa(i) + "]", Value: m, Reason: "must be an upper-case HTTP method"}
		}
	}
	if c.MaxBody < 0 || c.MaxBody > 1<<30 {
		return &baldur.ConfigError{Field: "max_body", Value: strconv.FormatInt(c.MaxBody, 10), Reason: "must be between 0 (default 1 MiB) and 1 GiB"}
	}
	if c.MaxStored < 0 || c.MaxStored > 16<<20 {
		return &baldur.ConfigError{Field: "max_stored", Value: strconv.Itoa(c.MaxStored), Reason: "must be between 0 (default 64 KiB) and 16 MiB"}
	}
	if !c.Mode.Valid() {
		return &baldur.ConfigError{Field: "mode", Value: c.Mode.String(), Reason: `must be "replay" or "reject"`}
	}
	for i, h := range c.Headers {
		if h == "" || strings.ContainsAny(h, " \t:\r\n") {
			return &baldur.ConfigError{Field: "headers[" + strconv.Itoa(i) + "]", Value: h, Reason: "must be a header name"}
		}
	}
	for i, r := range c.Routes {
		at := "routes[" + strconv.Itoa(i) + "]"
		if r.Match == "" {
			return &baldur.ConfigError{Field: at + ".match", Reason: "is required"}
		}
		if r.Mode != nil && !r.Mode.Valid() {
			return &baldur.ConfigError{Field: at + ".mode", Value: r.Mode.String(), Reason: `must be "replay" or "reject"`}
		}
	}
	return nil
}

// Valid reports whether m is a defined mode.
func (m Mode) Valid() bool { return modeNames.Valid(m) }

// rule is a resolved route rule.
type rule struct {
	off, require, failOpen bool
	mode                   Mode
}

// Rule is the resolved rule of one operation: the first Route matching it
// over Config's Require and Mode.
type Rule struct {
	Off, Require, FailOpen bool
	Mode                   Mode
}

// RuleFor resolves the rule of op (an HTTP route or a gRPC full method), as
// the adapters do; other adapters (package idemgrpc) use it.
func (c *Config) RuleFor(op string) Rule {
	r := c.ruleFor(op)
	return Rule{Off: r.off, Require: r.require, FailOpen: r.failOpen, Mode: r.mode}
}

func (c *Config) ruleFor(op string) rule {
	r := rule{require: c.Require, mode: c.Mode}
	for i := range c.Routes {
		rt := &c.Routes[i]
		if !glob.Match(rt.Match, op) {
			continue
		}
		r.off, r.failOpen = rt.Off, rt.FailOpen
		if rt.Require != nil {
			r.require = *rt.Require
		}
		if rt.Mode != nil {
			r.mode = *rt.Mode
		}
		break
	}
	return r
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.TTL == 0 {
		d.TTL = baldur.Duration(TTL)
	}
	if d.Lease == 0 {
		d.Lease = baldur.Duration(DefaultLease)
	}
	if d.Grace == 0 {
		d.Grace = baldur.Duration(DefaultGrace)
	}
	if len(d.Methods) == 0 {
		d.Methods = DefaultMethods
	}
	if d.MaxBody == 0 {
		d.MaxBody = DefaultMaxBody
	}
	if d.MaxStored == 0 {
		d.MaxStored = DefaultMaxStored
	}
	if len(d.Headers) == 0 {
		d.Headers = DefaultHeaders
	}
	hs := make([]string, len(d.Headers))
	for i, h := range d.Headers {
		hs[i] = http.CanonicalHeaderKey(h)
	}
	d.Headers = hs
	return d
}

// String describes the expiry policy, as the draft asks servers to
// publish it.
func (c *Config) String() string {
	d := c.withDefaults()
	return fmt.Sprintf("idempotency: keys on %v kept %v after completion, in-progress lease %v", d.Methods, d.TTL, d.Lease)
}
