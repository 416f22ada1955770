package registry

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/clip"
	"github.com/baldur-go/baldur/internal/front"
	"github.com/baldur-go/baldur/internal/glob"
)

// maxCachedOperations bounds the per-table cache of resolved operations, so
// that operation names derived from request data cannot grow memory without
// bound. Past it, pattern operations are matched on every call.
const maxCachedOperations = 4096

// table is one immutable generation of the operation-to-policy mapping.
type table struct {
	version  uint64
	policies map[string]*baldur.Policy // by name
	exact    map[string]*baldur.Policy // by operation
	patterns []patternRoute            // glob operations, in declaration order
	fallback *baldur.Policy

	cache  sync.Map     // operation -> *baldur.Policy (nil stored as noPolicy)
	cached atomic.Int32 // operations cached; never exceeds maxCachedOperations

	front front.Cache[*baldur.Policy] // by the operation string's identity, before the maps
}

type patternRoute struct {
	pattern string
	policy  *baldur.Policy
}

var noPolicy = new(baldur.Policy)

func emptyTable() *table {
	return &table{policies: map[string]*baldur.Policy{}, exact: map[string]*baldur.Policy{}}
}

// Spec binds policies to operations. Apply validates it whole before any of
// it takes effect.
type Spec struct {
	// Policies are the named policies; names must be unique.
	Policies []*baldur.Policy
	// Routes maps an operation (a ServeMux pattern, a gRPC full method, or
	// a glob with '*' matching any run of characters) to a policy name.
	Routes map[string]string
	// Default names the policy of operations no route matches; empty means
	// such operations are not guarded.
	Default string
}

// Policy returns the policy for operation: an exact route, else the first
// matching glob route in declaration order (longest pattern first), else the
// default. It implements baldur.Resolver; a nil result admits every call.
func (r *Registry) Policy(operation string) *baldur.Policy {
	return r.table.Load().policy(operation)
}

// policy resolves operation in t: exact route, cached glob result, first
// matching glob (cached while the cache has room), default. Registry.Policy
// asks the running table; a canary split asks its cohort's.
func (t *table) policy(operation string) *baldur.Policy {
	if p, ok := t.front.Get(operation); ok {
		return p
	}
	p := t.resolve(operation)
	t.front.Miss(operation, p)
	return p
}

// resolve is policy past the front cache.
func (t *table) resolve(operation string) *baldur.Policy {
	if p, ok := t.exact[operation]; ok {
		return p
	}
	if len(t.patterns) == 0 {
		return t.fallback
	}
	if v, ok := t.cache.Load(operation); ok {
		if p := v.(*baldur.Policy); p != noPolicy {
			return p
		}
		return nil
	}
	p := t.fallback
	for _, pr := range t.patterns {
		if glob.Match(pr.pattern, operation) {
			p = pr.policy
			break
		}
	}
	if t.reserveCacheSlot() {
		v := p
		if v == nil {
			v = noPolicy
		}
		t.cache.Store(operation, v)
	}
	return p
}

// reserveCacheSlot counts one more cached operation and reports whether the
// bound allows it. The count stops at the bound instead of growing with
// every miss, so it cannot wrap however long the table serves, and a full
// cache costs one atomic load, not a contended write.
func (t *table) reserveCacheSlot() bool {
	for {
		n := t.cached.Load()
		if n >= maxCachedOperations {
			return false
		}
		if t.cached.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// PolicyByName returns the named policy of the current table.
func (r *Registry) PolicyByName(name string) (*baldur.Policy, bool) {
	p, ok := r.table.Load().policies[name]
	return p, ok
}

// PolicyNames lists the current policies, sorted.
func (r *Registry) PolicyNames() []string {
	t := r.table.Load()
	out := make([]string, 0, len(t.policies))
	for n := range t.policies {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Version counts successful Apply calls; it changes on every swap.
func (r *Registry) Version() uint64 { return r.table.Load().version }

// Apply validates spec and swaps it in atomically. Calls admitted under the
// previous table keep the permits of its gates and release them there, so no
// permit is lost or released twice across a swap. On error the previous
// table keeps serving.
func (r *Registry) Apply(spec Spec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applyLocked(spec)
}

func (r *Registry) applyLocked(spec Spec) error {
	t, err := buildTable(spec)
	if err != nil {
		return err
	}
	t.version = r.table.Load().version + 1
	r.table.Store(t)
	return nil
}

func buildTable(spec Spec) (*table, error) {
	t := emptyTable()
	for i, p := range spec.Policies {
		if p == nil {
			return nil, &baldur.ConfigError{Field: fmt.Sprintf("policies[%d]", i), Reason: "is nil"}
		}
		if _, dup := t.policies[p.Name()]; dup {
			return nil, &baldur.ConfigError{Field: fmt.Sprintf("policies[%d].name", i), Value: p.Name(), Reason: "duplicate policy name"}
		}
		t.policies[p.Name()] = p
	}
	ops := make([]string, 0, len(spec.Routes))
	for op := range spec.Routes {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		name := spec.Routes[op]
		if err := ValidateOperation(op); err != nil {
			return nil, err
		}
		p, ok := t.policies[name]
		if !ok {
			return nil, &baldur.ConfigError{Field: "routes[" + op + "]", Value: name, Reason: "unknown policy"}
		}
		if strings.Contains(op, "*") {
			t.patterns = append(t.patterns, patternRoute{pattern: op, policy: p})
		} else {
			t.exact[op] = p
		}
	}
	// More specific (longer) patterns win; ties keep name order.
	sort.SliceStable(t.patterns, func(i, j int) bool { return len(t.patterns[i].pattern) > len(t.patterns[j].pattern) })
	if spec.Default != "" {
		p, ok := t.policies[spec.Default]
		if !ok {
			return nil, &baldur.ConfigError{Field: "default_policy", Value: spec.Default, Reason: "unknown policy"}
		}
		t.fallback = p
	}
	return t, nil
}

// maxOperationLen bounds operation names in configuration.
const maxOperationLen = 1024

// ValidateOperation checks an operation name or pattern from configuration:
// non-empty, at most 1024 bytes, printable, no surrounding space, no "**",
// and, when it contains '{', a valid net/http ServeMux pattern.
func ValidateOperation(op string) error {
	bad := func(reason string) error {
		return &baldur.ConfigError{Field: "operation", Value: fmt.Sprintf("%q", clip.String(op)), Reason: reason}
	}
	switch {
	case op == "":
		return bad("must not be empty")
	case len(op) > maxOperationLen:
		return bad("longer than 1024 bytes")
	case strings.TrimSpace(op) != op:
		return bad("has leading or trailing space")
	case strings.Contains(op, "**"):
		return bad(`"**" is not a pattern; '*' already matches any run of characters`)
	}
	for _, c := range op {
		if c < 0x20 || c == 0x7f || c == '\uFFFD' {
			return bad("has a control or invalid character")
		}
	}
	if strings.ContainsAny(op, "{}") && !strings.Contains(op, "*") {
		if err := checkMuxPattern(op); err != nil {
			return bad("not a valid ServeMux pattern: " + err.Error())
		}
	}
	return nil
}

func checkMuxPattern(op string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	http.NewServeMux().Handle(op, http.NotFoundHandler())
	return nil
}
