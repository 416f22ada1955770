package watchdog

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
)

// Incident is one open condition, keyed by (Check, Subject): opened and
// paged once, resolved by key when the subject is no longer observed. The
// incident of a check's remediation brake has the empty Subject.
type Incident struct {
	// Check is the check's incident key: its name, or name@replica for a
	// LocalCheck, so that replicas' local incidents stay apart.
	Check   string `json:"check"`
	Subject string `json:"subject"`
	Title   string `json:"title"`
	Detail  string `json:"detail,omitempty"`
	// Priority is the priority it was paged at.
	Priority notify.Priority `json:"priority"`
	OpenedAt time.Time       `json:"opened_at"`
	// Session is the watchdog that opened it.
	Session string `json:"session,omitempty"`
}

// Brake reports whether the incident is a check's engaged brake.
func (i Incident) Brake() bool { return i.Subject == "" }

// IncidentStore keeps the open incidents where every replica of the fleet
// sees them, so that a new leader does not page again what the last one
// paged. Writes carry the writer's fencing token for the check; a store
// refuses (ErrStaleToken) a token smaller than one it has seen for that
// check. Token 0 is unfenced: local checks and an operator's release of a
// brake lead nothing.
//
// Implementations must be safe for concurrent use.
type IncidentStore interface {
	// Open records inc unless (inc.Check, inc.Subject) is open already;
	// opened reports whether this call opened it (and so must page).
	Open(ctx context.Context, inc Incident, token uint64) (opened bool, err error)
	// Resolve deletes the incident; resolved reports whether it was open.
	Resolve(ctx context.Context, check, subject string, token uint64) (resolved bool, err error)
	// List returns check's open incidents, in no particular order.
	List(ctx context.Context, check string) ([]Incident, error)
	// Checks returns the checks with open incidents, ordered.
	Checks(ctx context.Context) ([]string, error)
}

// MemoryIncidents is an IncidentStore for one process. The zero value is
// ready. Safe for concurrent use.
type MemoryIncidents struct {
	mu     sync.Mutex
	open   map[string]map[string]Incident
	fences map[string]*lock.Fence
}

var _ IncidentStore = (*MemoryIncidents)(nil)

// NewMemoryIncidents returns an empty MemoryIncidents.
func NewMemoryIncidents() *MemoryIncidents { return &MemoryIncidents{} }

func (m *MemoryIncidents) admitLocked(check string, token uint64) error {
	if token == 0 {
		return nil
	}
	if m.fences == nil {
		m.fences = map[string]*lock.Fence{}
	}
	f := m.fences[check]
	if f == nil {
		f = &lock.Fence{}
		m.fences[check] = f
	}
	return f.Admit(token)
}

// Open implements IncidentStore.
func (m *MemoryIncidents) Open(ctx context.Context, inc Incident, token uint64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.admitLocked(inc.Check, token); err != nil {
		return false, err
	}
	if m.open == nil {
		m.open = map[string]map[string]Incident{}
	}
	c := m.open[inc.Check]
	if c == nil {
		c = map[string]Incident{}
		m.open[inc.Check] = c
	}
	if _, ok := c[inc.Subject]; ok {
		return false, nil
	}
	c[inc.Subject] = inc
	return true, nil
}

// Resolve implements IncidentStore.
func (m *MemoryIncidents) Resolve(ctx context.Context, check, subject string, token uint64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.admitLocked(check, token); err != nil {
		return false, err
	}
	c := m.open[check]
	if _, ok := c[subject]; !ok {
		return false, nil
	}
	delete(c, subject)
	if len(c) == 0 {
		delete(m.open, check)
	}
	return true, nil
}

// List implements IncidentStore.
func (m *MemoryIncidents) List(ctx context.Context, check string) ([]Incident, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	c := m.open[check]
	out := make([]Incident, 0, len(c))
	for _, inc := range c {
		out = append(out, inc)
	}
	m.mu.Unlock()
	return out, nil
}

// Checks implements IncidentStore.
func (m *MemoryIncidents) Checks(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	out := make([]string, 0, len(m.open))
	for c := range m.open {
		out = append(out, c)
	}
	m.mu.Unlock()
	sort.Strings(out)
	return out, nil
}
