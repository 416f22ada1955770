package governance

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// AuditBreakGlass is the reason of the audit record written when break glass
// allows an action that governance would otherwise check.
const AuditBreakGlass baldur.BlockReason = "break_glass"

// AuditRecord describes one governance block (or break-glass allowance).
type AuditRecord struct {
	Time time.Time
	// Reason is the block reason, or AuditBreakGlass.
	Reason baldur.BlockReason
	// Message explains the decision for an operator.
	Message string
	// Operation, Service, Domain, Region and Tier describe the blocked call
	// or action.
	Operation, Service, Domain, Region string
	Tier                               baldur.Tier
	// Level is the emergency level at the decision.
	Level baldur.EmergencyLevel
	// Actor is who set the state that decided (kill switch, break glass).
	Actor string
	// Resource is the caller's free-form context (CheckAll only).
	Resource map[string]string
	// Dropped counts the records of this reason suppressed by the rate
	// limit since the previous record of this reason was written.
	Dropped uint64
}

// AuditSink receives audit records. The Checker calls it synchronously on
// the rejecting goroutine, at most AuditRate times a second per reason
// (plus a burst), never under a lock.
//
// Implementations must be safe for concurrent use and should not block.
type AuditSink interface {
	Audit(ctx context.Context, r AuditRecord)
}

// MemoryAudit keeps the most recent audit records in memory (for tests, the
// demo and an admin endpoint). The zero value keeps 1000 records. Safe for
// concurrent use.
type MemoryAudit struct {
	// Max bounds the records kept; zero means 1000.
	Max int

	mu      sync.Mutex
	records []AuditRecord
}

// Audit implements AuditSink.
func (m *MemoryAudit) Audit(_ context.Context, r AuditRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	limit := m.Max
	if limit <= 0 {
		limit = 1000
	}
	if len(m.records) >= limit {
		m.records = append(m.records[:0], m.records[len(m.records)-limit+1:]...)
	}
	m.records = append(m.records, r)
}

// Records returns a copy of the kept records, oldest first.
func (m *MemoryAudit) Records() []AuditRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]AuditRecord(nil), m.records...)
}

// auditKinds indexes the per-reason limiters.
const (
	auditKill = iota
	auditEmergency
	auditBudget
	auditBreakGlass
	auditOther
	numAuditKinds
)

func auditKind(r baldur.BlockReason) int {
	switch r {
	case baldur.BlockKillSwitch:
		return auditKill
	case baldur.BlockEmergency:
		return auditEmergency
	case baldur.BlockErrorBudget:
		return auditBudget
	case AuditBreakGlass:
		return auditBreakGlass
	}
	return auditOther
}

// auditor rate limits audit records per reason with a lock-free GCRA token
// bucket (one CAS on the theoretical arrival time), so that a flood of
// blocked calls writes at most rate/s + burst records. Once the budget is
// spent a refused record costs one atomic load of the bucket and one add
// to a drop counter striped over cache lines, so that cores rejecting in
// parallel do not write a shared line.
type auditor struct {
	sink     AuditSink
	interval int64 // nanoseconds between records at the sustained rate
	burst    int64 // tolerance: burst * interval
	kinds    [numAuditKinds]auditLimiter
}

const dropStripes = 8 // a power of two

type auditLimiter struct {
	tat      atomic.Int64
	reported atomic.Uint64 // drops already carried by a written record
	_        [48]byte
	drops    [dropStripes]struct {
		n atomic.Uint64
		_ [56]byte
	}
}

// dropped sums the striped drop counters.
func (l *auditLimiter) dropped() (n uint64) {
	for i := range l.drops {
		n += l.drops[i].n.Load()
	}
	return n
}

func newAuditor(sink AuditSink, rate float64, burst int) *auditor {
	iv := int64(math.Max(1, float64(time.Second)/rate))
	return &auditor{sink: sink, interval: iv, burst: int64(burst) * iv}
}

// allow reports whether a record of kind may be written at now (unix ns).
func (a *auditor) allow(l *auditLimiter, now int64) bool {
	t := &l.tat
	for {
		old := t.Load()
		tat := max(old, now)
		if tat-now >= a.burst {
			return false
		}
		if t.CompareAndSwap(old, tat+a.interval) {
			return true
		}
	}
}

// take reports whether a record with reason may be written at now (unix
// ns), and how many were dropped before it. A refused record is counted.
// Callers build the record only after take says yes, so that a dropped
// record costs no allocation.
func (a *auditor) take(reason baldur.BlockReason, now int64) (dropped uint64, ok bool) {
	return a.takeKind(auditKind(reason), now)
}

func (a *auditor) takeKind(k int, now int64) (dropped uint64, ok bool) {
	l := &a.kinds[k]
	if !a.allow(l, now) {
		l.drops[rand.Uint32()&(dropStripes-1)].n.Add(1)
		return 0, false
	}
	// Claim the drops not yet reported; a concurrent writer that summed
	// more claims them instead.
	total := l.dropped()
	for {
		prev := l.reported.Load()
		if total <= prev {
			return 0, true
		}
		if l.reported.CompareAndSwap(prev, total) {
			return total - prev, true
		}
	}
}

// Dropped returns how many records of reason were suppressed since start.
func (a *auditor) droppedTotal(reason baldur.BlockReason) uint64 {
	return a.kinds[auditKind(reason)].dropped()
}
