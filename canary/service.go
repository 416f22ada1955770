package canary

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/notify"
)

// Trigger is who moved a rollout: "operator", "judge", "interlock",
// "watchdog" or "panic".
type Trigger string

// Triggers of transitions.
const (
	TriggerOperator  Trigger = "operator"
	TriggerJudge     Trigger = "judge"
	TriggerInterlock Trigger = "interlock"
	TriggerPanic     Trigger = "panic"
)

// Status is a snapshot of one rollout. It implements Rollout.
type Status struct {
	RolloutID string `json:"id"`
	Type      string `json:"config_type"`
	Current   State  `json:"state"`
	// StageIndex is the current stage, from 0; Stages is how many the plan
	// has; Share is the current stage's candidate share.
	StageIndex int       `json:"stage"`
	Stages     int       `json:"stages"`
	Share      float64   `json:"share"`
	Created    time.Time `json:"created_at"`
	Paused     time.Time `json:"paused_at,omitzero"`
	// StageStarted is when the current stage was acknowledged by the
	// replicas; its observation windows start there.
	StageStarted time.Time `json:"stage_started_at,omitzero"`
	// Applied is true once MinAck of the live replicas report the stage.
	Applied bool `json:"applied"`
	// Blocked says why the rollout cannot go on (an acknowledgement
	// timeout); empty when it can.
	Blocked string `json:"blocked,omitempty"`
	// PausedBy is the trigger of the last pause.
	PausedBy Trigger `json:"paused_by,omitempty"`
	// CandidateHash and BaselineHash are the ConfigHash of the candidate
	// and of the rollback snapshot.
	CandidateHash string `json:"candidate_hash"`
	BaselineHash  string `json:"baseline_hash"`
	// Acks are what the live replicas reported at the last check, and
	// AckRatio the fraction that run the current stage.
	Acks     []Ack   `json:"acks,omitempty"`
	AckRatio float64 `json:"ack_ratio"`
	// Verdict is the last window's judgement; nil before the first.
	Verdict *Judgement `json:"verdict,omitempty"`
	// Fails and Inconclusive count the windows of each verdict since the
	// last passed one.
	Fails        int `json:"fails"`
	Inconclusive int `json:"inconclusive"`
	// Token is the fencing token of the rollout's lock (0 when not held).
	Token uint64 `json:"fence_token"`
	// Version counts the rollout's changes.
	Version uint64 `json:"version"`
}

func (s Status) ID() string                { return s.RolloutID }
func (s Status) ConfigType() string        { return s.Type }
func (s Status) State() State              { return s.Current }
func (s Status) Stage() int                { return s.StageIndex }
func (s Status) CreatedAt() time.Time      { return s.Created }
func (s Status) PausedAt() time.Time       { return s.Paused }
func (s Status) StageStartedAt() time.Time { return s.StageStarted }

var _ Rollout = Status{}

type rollout struct {
	st       Status
	plan     Plan
	snapshot []byte
	applyAt  time.Time // when the current stage's apply was sent
	judged   int64     // the last window judged
	ready    bool      // "ready to promote" was notified for this stage
	blastID  string    // the blast-radius action of the current stage
	lastBase *Window   // the last baseline window with enough calls
	saved    uint64    // the version last saved to the RecordStore
}

// Service runs canary rollouts of configuration: it validates a candidate
// before anything starts, snapshots the baseline, applies stage by stage
// under a fenced lock per config type, counts a stage applied only when the
// replicas acknowledge it, judges each window of the calls themselves, and
// pauses, rolls back or promotes by the configured verdict policy.
//
// Actions are serialized, one at a time per service, including their calls
// to the Applier, the lock and the governance checker; reads (Get, List)
// do not wait for them, and notifications are sent after the action, with
// no lock held. Safe for concurrent use.
type Service struct {
	cfg     Config
	clock   baldur.Clock
	acks    AckSource
	windows WindowStore
	notify  notify.Manager
	lock    lock.Fenced
	session string
	crit    Criteria
	log     *slog.Logger

	op sync.Mutex // serializes actions

	mu     sync.Mutex // guards the fields below
	byID   map[string]*rollout
	active map[string]string // config type -> rollout ID
	seq    uint64
	stats  Stats
	notes  []notify.Notification // queued by send, sent by flushNotes
}

// Stats are the service's counters, for metrics.
type Stats struct {
	// Transitions counts transitions by target state and trigger.
	Transitions map[string]uint64 // "rolled_back/judge"
	// Verdicts counts judged windows by verdict.
	Verdicts [NumVerdicts]uint64
}

// New returns a Service; invalid settings are a *baldur.ConfigError.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Applier == nil {
		return nil, &baldur.ConfigError{Field: "Applier", Reason: "is required"}
	}
	s := &Service{cfg: cfg, clock: cfg.Clock, acks: cfg.Acks, windows: cfg.Windows, notify: cfg.Notify,
		lock: cfg.Lock, session: cfg.Session, crit: cfg.criteria(), byID: map[string]*rollout{}, active: map[string]string{},
		stats: Stats{Transitions: map[string]uint64{}}}
	if s.clock == nil {
		s.clock = baldur.SystemClock()
	}
	if s.acks == nil {
		a, ok := cfg.Applier.(AckSource)
		if !ok {
			return nil, &baldur.ConfigError{Field: "Acks", Reason: "is required when the Applier reports no acknowledgements"}
		}
		s.acks = a
	}
	if s.windows == nil {
		s.windows = NewMemoryWindows()
	}
	if s.notify == nil {
		s.notify = notify.NoOp{}
	}
	if s.lock == nil {
		m, err := lock.NewMemory(lock.MemoryConfig{Clock: s.clock})
		if err != nil {
			return nil, err
		}
		s.lock = m
	}
	if s.log = cfg.Logger; s.log == nil {
		s.log = slog.Default()
	}
	if s.session == "" {
		s.session = "canary-" + strconv.Itoa(os.Getpid())
	}
	return s, nil
}

// Settings returns the service's settings with defaults applied.
func (s *Service) Settings() Config { return s.cfg }

func lockNamespace(configType string) string { return "canary:" + configType }

// Get returns the rollout with id, or an error matching ErrNotFound.
func (s *Service) Get(_ context.Context, id string) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return Status{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return r.status(), nil
}

func (r *rollout) status() Status {
	st := r.st
	st.Acks = append([]Ack(nil), r.st.Acks...)
	if r.st.Verdict != nil {
		v := *r.st.Verdict
		st.Verdict = &v
	}
	return st
}

// List returns every rollout, newest first.
func (s *Service) List(context.Context) []Status {
	return s.statuses(func(*rollout) bool { return true })
}

// Active returns the running and paused rollouts.
func (s *Service) Active(context.Context) []Status {
	return s.statuses(func(r *rollout) bool { return r.st.Current.Active() })
}

// statuses returns the snapshots of the rollouts keep accepts (called
// with s.mu held), newest first. The watchdog's checks call it every pass,
// each over every rollout: it filters before copying and sorts pointers,
// not snapshots.
func (s *Service) statuses(keep func(*rollout) bool) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.sortedLocked(keep)
	out := make([]Status, len(rs))
	for i, r := range rs {
		out[i] = r.status()
	}
	return out
}

// sortedLocked returns the rollouts keep accepts, newest first; s.mu is
// held.
func (s *Service) sortedLocked(keep func(*rollout) bool) []*rollout {
	rs := make([]*rollout, 0, len(s.byID))
	for _, r := range s.byID {
		if keep(r) {
			rs = append(rs, r)
		}
	}
	slices.SortFunc(rs, func(a, b *rollout) int { return strings.Compare(b.st.RolloutID, a.st.RolloutID) })
	return rs
}

// Stats returns a copy of the counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{Transitions: make(map[string]uint64, len(s.stats.Transitions)), Verdicts: s.stats.Verdicts}
	for k, v := range s.stats.Transitions {
		out.Transitions[k] = v
	}
	return out
}

// expect returns the rollout when it is in one of states, else an error
// matching ErrNotFound or ErrTransition.
func (s *Service) expect(id string, states ...State) (*rollout, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	for _, st := range states {
		if r.st.Current == st {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: rollout %s is %v", ErrTransition, id, r.st.Current)
}

// transitionLocked moves r to state and counts it; s.mu is held. The
// caller audits and notifies after releasing it.
func (s *Service) transitionLocked(r *rollout, to State, by Trigger) Status {
	r.st.Current = to
	r.st.Version++
	s.stats.Transitions[to.String()+"/"+string(by)]++
	return r.status()
}
