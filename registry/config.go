package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/idempotency"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/throttle"
	"github.com/baldur-go/baldur/watchdog"
)

// Config is the registry's file format (JSON): one tree whose sections are
// the gates' own configurations. It declares named gates and the policies
// that compose them, per operation. See docs/config.md and
// examples/quickstart/baldur.json for a complete file.
//
// Unknown fields are errors, so a typo is caught at load time, not in an
// incident; every error names the path of the field the file spells.
type Config struct {
	// Service and Region name the service and its region. Every policy Load
	// builds fills them into calls whose adapter left them empty.
	Service string `json:"service,omitempty"`
	Region  string `json:"region,omitempty"`
	// Governance configures the governance checker. When it is present and
	// no checker was Set in the registry's governance slot, Load builds one
	// and fills the governance, emergency and error-budget slots.
	Governance *governance.Config `json:"governance,omitempty"`
	// Throttles, Breakers, ShareCaps and Bulkheads are named gates, each
	// the configuration of its package's gate. A gate's Name and Clock come
	// from its key and the registry.
	Throttles map[string]ThrottleSpec         `json:"throttles,omitempty"`
	Breakers  map[string]blast.BreakerConfig  `json:"breakers,omitempty"`
	ShareCaps map[string]blast.ShareCapConfig `json:"share_caps,omitempty"`
	Bulkheads map[string]bulkhead.Spec        `json:"bulkheads,omitempty"`
	// Policies compose gates and name the operations they guard.
	Policies []PolicyConfig `json:"policies"`
	// DefaultPolicy guards operations no policy names; empty leaves them
	// unguarded.
	DefaultPolicy string `json:"default_policy,omitempty"`
	// Fleet says where the Redis that shares state across the service's
	// replicas is, and who this replica is (see FleetConfig). The registry
	// validates and carries it (Registry.Fleet); redisstore.Open reads it.
	// Absent: a single process, every store in memory.
	Fleet *FleetConfig `json:"fleet,omitempty"`
	// The service sections below are read by their service packages: Load
	// validates their values (each Config.Validate, errors naming the JSON
	// path, "idempotency.ttl") and otherwise only carries them; it builds
	// no ledger, pipeline, watchdog or queue and talks to no store. The
	// service passes its section, with its wiring (ledger, clock, fleet
	// claims, checks, repository), to the package's constructor.

	// Idempotency is idempotency.Middleware's section.
	Idempotency *idempotency.Config `json:"idempotency,omitempty"`
	// Notifications is notify.New's section.
	Notifications *notify.Config `json:"notifications,omitempty"`
	// Watchdog is watchdog.New's section.
	Watchdog *watchdog.Config `json:"watchdog,omitempty"`
	// DLQ is dlq.New's section.
	DLQ *dlq.Config `json:"dlq,omitempty"`
	// Canary is canary.New's section.
	Canary *canary.Config `json:"canary,omitempty"`
	// Chaos is the chaos experiments' section (see docs/chaos.md). When
	// present, every policy gets the fault stage (and the observe stage
	// when it has room) reading Registry.Chaos(); the service builds its
	// chaos.Scheduler from ChaosConfig. Absent: no policy has a fault
	// stage. Disabled and dry-run unless it says otherwise.
	Chaos *chaos.Config `json:"chaos,omitempty"`
}

// ThrottleSpec is a throttle as a file declares it: the throttle's own
// Config and whether the registry leaves it out of emergency scaling.
type ThrottleSpec struct {
	throttle.Config
	// IgnoreEmergency turns off the emergency rate factors (on by default
	// when a governance checker is present).
	IgnoreEmergency bool `json:"ignore_emergency,omitempty"`
}

// PolicyConfig declares one policy.
type PolicyConfig struct {
	// Name is unique among policies.
	Name string `json:"name"`
	// Operations are the operations the policy guards: ServeMux patterns
	// ("GET /items/{id}"), gRPC full methods, or globs with '*'.
	Operations []string `json:"operations,omitempty"`
	// Governance puts the governance gate first in the chain.
	Governance bool `json:"governance,omitempty"`
	// Throttle, Breaker, ShareCap and Bulkhead name gates declared above;
	// empty means none of that kind.
	Throttle string `json:"throttle,omitempty"`
	Breaker  string `json:"breaker,omitempty"`
	ShareCap string `json:"share_cap,omitempty"`
	Bulkhead string `json:"bulkhead,omitempty"`
	// Shadow lists stages ("governance", "throttle", "blast", "bulkhead")
	// whose gates are evaluated and counted but not enforced.
	Shadow []baldur.Stage `json:"shadow,omitempty"`
	// MinTimeLeft rejects calls whose deadline is closer than this.
	MinTimeLeft baldur.Duration `json:"min_time_left,omitempty"`
}

// ParseConfig decodes a JSON configuration strictly: unknown fields and
// trailing data are errors, and so is a value its type refuses (a tier or a
// key_by that does not exist), as a *baldur.ConfigError naming the field's
// path. It does not check ranges; Load does, once, in each gate's
// constructor.
func ParseConfig(r io.Reader) (Config, error) {
	var c Config
	if err := decode(r, &c); err != nil {
		var ce *baldur.ConfigError
		if errors.As(err, &ce) {
			return Config{}, explainSecretField(err)
		}
		return Config{}, fmt.Errorf("registry: parse config: %w", err)
	}
	return c, nil
}

// maxConfigSize bounds configuration files.
const maxConfigSize = 4 << 20

// ReadConfigFile reads and parses a JSON configuration file.
func ReadConfigFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("registry: %w", err)
	}
	if len(b) > maxConfigSize {
		return Config{}, fmt.Errorf("registry: config file %s larger than 4 MiB", path)
	}
	return ParseConfig(bytes.NewReader(b))
}
