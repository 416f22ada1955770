package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/registry"
)

// fleetDoc is a minimal configuration around a fleet section.
func fleetDoc(section string) string {
	return `{"service":"shop","policies":[],"fleet":` + section + `}`
}

func loadFleet(t *testing.T, section string) (*registry.Registry, error) {
	t.Helper()
	cfg, err := registry.ParseConfig(strings.NewReader(fleetDoc(section)))
	if err != nil {
		return nil, err
	}
	r := registry.New()
	return r, r.Load(cfg)
}

func TestFleetSectionParsesAndResolves(t *testing.T) {
	t.Parallel()
	r, err := loadFleet(t, `{"address":"redis.internal:6380","db":2,"username":"baldur",
		"password_env":"BALDUR_REDIS_PASSWORD","tls":{"enabled":true,"server_name":"redis.internal","ca_file":"/etc/ca.pem"},
		"replica_id":"pod-7","cluster":"shop-eu","throttle_timeout":"3ms","control_timeout":"100ms"}`)
	require.NoError(t, err)
	f := r.Fleet()
	require.NotNil(t, f)
	assert.Equal(t, registry.FleetConfig{
		Address: "redis.internal:6380", DB: 2, Username: "baldur", PasswordEnv: "BALDUR_REDIS_PASSWORD",
		TLS:       registry.FleetTLS{Enabled: true, ServerName: "redis.internal", CAFile: "/etc/ca.pem"},
		ReplicaID: "pod-7", Cluster: "shop-eu",
		ThrottleTimeout: baldur.Duration(3e6), ControlTimeout: baldur.Duration(100e6),
	}, *f)
	assert.False(t, f.IsSocket())

	// Fleet returns a copy: the registry's section cannot be edited.
	f.Address = "elsewhere:1"
	assert.Equal(t, "redis.internal:6380", r.Fleet().Address)
}

func TestFleetSectionDefaults(t *testing.T) {
	t.Parallel()
	host, err := os.Hostname()
	require.NoError(t, err)
	for _, tc := range []struct {
		name, doc, cluster string
	}{
		{"cluster from service", fleetDoc(`{"address":"/run/redis.sock"}`), "shop"},
		{"no service", `{"policies":[],"fleet":{"address":"/run/redis.sock"}}`, "default"},
		{"service not a cluster name", `{"service":"my shop","policies":[],"fleet":{"address":"/run/redis.sock"}}`, "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := registry.ParseConfig(strings.NewReader(tc.doc))
			require.NoError(t, err)
			r := registry.New()
			require.NoError(t, r.Load(cfg))
			f := r.Fleet()
			require.NotNil(t, f)
			assert.True(t, f.IsSocket())
			assert.Equal(t, tc.cluster, f.Cluster)
			assert.Equal(t, registry.DefaultReplicaID(), f.ReplicaID)
			assert.True(t, strings.HasSuffix(f.ReplicaID, fmt.Sprintf("-%d", os.Getpid())), f.ReplicaID)
			assert.True(t, strings.HasPrefix(f.ReplicaID, host[:min(len(host), 8)]), f.ReplicaID)
		})
	}
}

func TestFleetAbsentIsNil(t *testing.T) {
	t.Parallel()
	r, _ := loadExample(t)
	assert.Nil(t, r.Fleet())
	assert.Nil(t, registry.New().Fleet())
}

// TestFleetSectionErrorsNameThePath covers every refusal of Validate and of
// the parser: each names the JSON path of the field.
func TestFleetSectionErrorsNameThePath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		section, field, reason string
	}{
		{`{}`, "fleet.address", "is required"},
		{`{"address":"redis"}`, "fleet.address", "host:port"},
		{`{"address":":6379"}`, "fleet.address", "must name a host"},
		{`{"address":"redis:0"}`, "fleet.address", "1..65535"},
		{`{"address":"redis:65536"}`, "fleet.address", "1..65535"},
		{`{"address":"redis:http"}`, "fleet.address", "1..65535"},
		{`{"address":"relative/redis.sock"}`, "fleet.address", "host:port"},
		{`{"address":"/` + strings.Repeat("s", 107) + `"}`, "fleet.address", "at most 107 bytes"},
		{`{"address":"redis\n:6379"}`, "fleet.address", "printable ASCII"},
		{`{"address":"h:1","db":-1}`, "fleet.db", "negative"},
		{`{"address":"h:1","db":"1"}`, "fleet.db", "integer"},
		{`{"address":"h:1","username":"a\u0000b"}`, "fleet.username", "printable"},
		{`{"address":"h:1","password_env":"lower_case"}`, "fleet.password_env", "environment variable"},
		{`{"address":"h:1","password_env":"1ABC"}`, "fleet.password_env", "environment variable"},
		{`{"address":"h:1","password_env":"A-B"}`, "fleet.password_env", "environment variable"},
		{`{"address":"h:1","tls":{"server_name":"h"}}`, "fleet.tls.server_name", "requires tls.enabled"},
		{`{"address":"h:1","tls":{"ca_file":"/ca.pem"}}`, "fleet.tls.ca_file", "requires tls.enabled"},
		{`{"address":"h:1","tls":{"enabled":true,"server_name":"a b"}}`, "fleet.tls.server_name", "host name"},
		{`{"address":"/r.sock","tls":{"enabled":true}}`, "fleet.tls.server_name", "unix socket"},
		{`{"address":"h:1","tls":{"enabled":"yes"}}`, "fleet.tls.enabled", "true or false"},
		{`{"address":"h:1","tls":{"verify":false}}`, "fleet.tls.verify", "unknown field"},
		{`{"address":"h:1","replica_id":"pod 1"}`, "fleet.replica_id", "spaces"},
		{`{"address":"h:1","replica_id":"` + strings.Repeat("r", 129) + `"}`, "fleet.replica_id", "at most 128"},
		{`{"address":"h:1","cluster":"a/b"}`, "fleet.cluster", "letters, digits"},
		{`{"address":"h:1","cluster":"` + strings.Repeat("c", 65) + `"}`, "fleet.cluster", "at most 64"},
		{`{"address":"h:1","throttle_timeout":"2s"}`, "fleet.throttle_timeout", "0..1s"},
		{`{"address":"h:1","throttle_timeout":"-1ms"}`, "fleet.throttle_timeout", "0..1s"},
		{`{"address":"h:1","control_timeout":"11s"}`, "fleet.control_timeout", "0..10s"},
		{`{"address":"h:1","hosts":["a"]}`, "fleet.hosts", "unknown field"},
		{`[]`, "fleet", "an object"},
	} {
		t.Run(tc.field+" "+tc.section, func(t *testing.T) {
			t.Parallel()
			_, err := loadFleet(t, tc.section)
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
			assert.Contains(t, ce.Error(), tc.reason)
		})
	}
}

// TestFleetSectionRefusesSecrets: a secret in the file is refused, and the
// error never repeats it (errors end up in logs).
func TestFleetSectionRefusesSecrets(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-Hunter2-value"
	for _, tc := range []struct {
		section, field string
	}{
		{`{"address":"h:1","password":"` + secret + `"}`, "fleet.password"},
		{`{"address":"h:1","Password":"` + secret + `"}`, "fleet.Password"},
		{`{"address":"h:1","redis_password":"` + secret + `"}`, "fleet.redis_password"},
		{`{"address":"h:1","auth_token":"` + secret + `"}`, "fleet.auth_token"},
		{`{"address":"h:1","secret":"` + secret + `"}`, "fleet.secret"},
		{`{"address":"h:1","tls":{"enabled":true,"private_key":"` + secret + `"}}`, "fleet.tls.private_key"},
		{`{"address":"redis://:` + secret + `@h:6379"}`, "fleet.address"},
		{`{"address":"user:` + secret + `@h:6379"}`, "fleet.address"},
		{`{"address":"h:1","password_env":"` + secret + `"}`, "fleet.password_env"},
	} {
		t.Run(tc.field, func(t *testing.T) {
			t.Parallel()
			_, err := loadFleet(t, tc.section)
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
			assert.NotContains(t, err.Error(), secret)
			assert.NotContains(t, err.Error(), "Hunter2")
			assert.Contains(t, err.Error(), "password")
		})
	}
	// A secret-like name outside the fleet section is an ordinary unknown
	// field.
	_, err := registry.ParseConfig(strings.NewReader(`{"policies":[],"password":"x"}`))
	var ce *baldur.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "unknown field", ce.Reason)
}

// TestFleetSectionIsFixedAfterFirstLoad: the stores were opened from the
// first section, so a reload that changes it is refused and the previous
// configuration keeps serving; an identical section reloads.
func TestFleetSectionIsFixedAfterFirstLoad(t *testing.T) {
	t.Parallel()
	parse := func(doc string) registry.Config {
		cfg, err := registry.ParseConfig(strings.NewReader(doc))
		require.NoError(t, err)
		return cfg
	}
	a := parse(fleetDoc(`{"address":"h:1","replica_id":"r1"}`))
	r := registry.New()
	require.NoError(t, r.Load(a))
	v := r.Version()
	require.NoError(t, r.Load(parse(fleetDoc(`{"address":"h:1","replica_id":"r1"}`))))
	assert.Equal(t, v+1, r.Version())

	for _, doc := range []string{
		fleetDoc(`{"address":"h:2","replica_id":"r1"}`),
		fleetDoc(`{"address":"h:1","replica_id":"r2"}`),
		`{"service":"shop","policies":[]}`,
	} {
		err := r.Load(parse(doc))
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce, doc)
		assert.Equal(t, "fleet", ce.Field)
		assert.Equal(t, "h:1", r.Fleet().Address)
	}
	assert.Equal(t, v+1, r.Version(), "refused reloads change nothing")

	// A registry first loaded without the section cannot gain one.
	r2 := registry.New()
	require.NoError(t, r2.Load(parse(`{"policies":[]}`)))
	require.Error(t, r2.Load(a))
	assert.Nil(t, r2.Fleet())
}

// TestWithGovernanceStoreSharesState: two registries over one store see
// each other's kill switches once their caches are invalidated, which is
// what a fleet store's change notification does.
func TestWithGovernanceStoreSharesState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := &countingStore{Store: governance.NewMemoryStore()}
	cfg, err := registry.ReadConfigFile(exampleFile)
	require.NoError(t, err)
	r1 := registry.New(registry.WithGovernanceStore(store))
	r2 := registry.New(registry.WithGovernanceStore(store))
	require.NoError(t, r1.Load(cfg))
	require.NoError(t, r2.Load(cfg))
	c1 := r1.Governance.Get().(*governance.Checker)
	c2 := r2.Governance.Get().(*governance.Checker)
	op := "GET /api/items/{id}"
	require.True(t, c2.CheckAll(ctx, baldur.GovernanceRequest{Operation: op}).Allowed)

	require.NoError(t, c1.Activate(ctx, governance.KillSwitch{Scope: governance.ScopeOperation, Pattern: op, Reason: "test"}))
	assert.Positive(t, store.puts)
	assert.False(t, c1.CheckAll(ctx, baldur.GovernanceRequest{Operation: op}).Allowed)
	c2.InvalidateCache()
	assert.False(t, c2.CheckAll(ctx, baldur.GovernanceRequest{Operation: op}).Allowed)

	// A reload rebuilds nothing here, and a rebuilt checker keeps the store.
	cfg.Governance.CacheTTL = baldur.Duration(2e9)
	require.NoError(t, r2.Load(cfg))
	c2b := r2.Governance.Get().(*governance.Checker)
	assert.NotSame(t, c2, c2b)
	assert.False(t, c2b.CheckAll(ctx, baldur.GovernanceRequest{Operation: op}).Allowed)

	// Nil keeps the in-memory default: separate registries, separate state.
	r3 := registry.New(registry.WithGovernanceStore(nil))
	require.NoError(t, r3.Load(cfg))
	assert.True(t, r3.Governance.Get().(*governance.Checker).CheckAll(ctx, baldur.GovernanceRequest{Operation: op}).Allowed)
}

type countingStore struct {
	governance.Store
	puts int
}

func (s *countingStore) PutKillSwitch(ctx context.Context, ks governance.KillSwitch) error {
	s.puts++
	return s.Store.PutKillSwitch(ctx, ks)
}

// FuzzFleetSection feeds the parser and Validate arbitrary fleet sections:
// never a panic; every refusal is a *baldur.ConfigError naming a path under
// fleet (or malformed JSON); a secret-like field's value is never quoted
// back; an accepted section round-trips through JSON to itself.
func FuzzFleetSection(f *testing.F) {
	for _, s := range []string{
		`{"address":"127.0.0.1:6379"}`,
		`{"address":"/tmp/r.sock","db":3,"replica_id":"a","cluster":"c"}`,
		`{"address":"[::1]:6379","password_env":"P","tls":{"enabled":true,"server_name":"r","ca_file":"/ca"}}`,
		`{"address":"h:1","password":"hunter2hunter2"}`,
		`{"address":"redis://u:hunter2hunter2@h:1"}`,
		`{"address":"h:1","password_env":"hunter2hunter2"}`,
		`{"address":"h:1","throttle_timeout":0.004,"control_timeout":"1s"}`,
		`null`, `[]`, `{"tls":null}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, section string) {
		cfg, err := registry.ParseConfig(strings.NewReader(fleetDoc(section)))
		if err == nil {
			err = registry.New().Load(cfg)
		}
		if err != nil {
			var ce *baldur.ConfigError
			if errors.As(err, &ce) {
				require.True(t, ce.Field == "fleet" || strings.HasPrefix(ce.Field, "fleet.") || ce.Field == "the top level", "field %q: %v", ce.Field, err)
				for _, v := range secretValues(section) {
					require.NotContains(t, err.Error(), v, "a secret-like value was quoted back")
				}
			}
			return
		}
		if cfg.Fleet == nil {
			return
		}
		b, err := json.Marshal(cfg.Fleet)
		require.NoError(t, err)
		var back registry.FleetConfig
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, *cfg.Fleet, back)
		require.NoError(t, back.Validate())
	})
}

// secretValues returns the string values (of 8 bytes or more) of fields
// whose names look like secrets, and of address and password_env when they
// hold credentials or no variable name, in a JSON object.
func secretValues(section string) []string {
	var m map[string]any
	if json.Unmarshal([]byte(section), &m) != nil {
		return nil
	}
	var out []string
	for k, v := range m {
		s, ok := v.(string)
		if !ok || len(s) < 8 {
			continue
		}
		lk := strings.ToLower(k)
		switch {
		case lk == "address" && (strings.Contains(s, "@") || strings.Contains(s, "://")):
			out = append(out, s)
		case lk == "password_env" && strings.ToUpper(s) != s:
			out = append(out, s)
		case lk != "password_env" && (strings.Contains(lk, "pass") || strings.Contains(lk, "secret") || strings.Contains(lk, "token")):
			out = append(out, s)
		}
	}
	return out
}
