package canary

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/baldur-go/baldur"
)

// Phase is what a Desired state asks a replica to run.
type Phase uint8

const (
	// PhaseCanary: the split, the candidate on Share of the keys.
	PhaseCanary Phase = iota + 1
	// PhaseComplete: the candidate is the running configuration.
	PhaseComplete
	// PhaseRestore: the rollback snapshot is the running configuration.
	PhaseRestore
)

func (p Phase) String() string {
	switch p {
	case PhaseCanary:
		return "canary"
	case PhaseComplete:
		return "complete"
	case PhaseRestore:
		return "restore"
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// Desired is one apply of a rollout: what every replica in scope must run.
type Desired struct {
	Rollout    string
	ConfigType string
	Stage      int
	Phase      Phase
	// Share is the candidate's fraction of keys (PhaseCanary).
	Share float64
	// Clusters is the stage's cluster selector (Stage.Clusters): a
	// replica of another cluster applies the split at share 0. Empty
	// means every replica.
	Clusters []string `json:",omitempty"`
	// Candidate and Snapshot are configuration documents.
	Candidate, Snapshot []byte
	// Token is the fencing token of the rollout's config-type lock: a
	// replica refuses a token smaller than one it has applied.
	Token uint64
	// Key is the apply's idempotency key (idempotency.CanaryKey): an
	// apply already done under it is not done again.
	Key string
	// Panic marks a panic rollback, which restores without a fence: it
	// only ever moves toward the snapshot.
	Panic bool
}

// ConfigHash returns the short hash a replica reports for a document.
func ConfigHash(doc []byte) string {
	h := sha256.Sum256(doc)
	return hex.EncodeToString(h[:8])
}

// Ack returns what a replica that applied d reports: the rollout, the
// stage, the phase and the hash of the configuration it runs.
func (d *Desired) Ack() string {
	doc := d.Candidate
	if d.Phase == PhaseRestore {
		doc = d.Snapshot
	}
	return d.Rollout + ":" + strconv.Itoa(d.Stage) + ":" + d.Phase.String() + ":" + ConfigHash(doc)
}

// Applier applies a rollout's desired state: to this process (Local) or to
// a fleet (a store the replicas read). Apply must be idempotent per
// Desired.Key and must refuse, with an error matching lock.ErrStaleToken, a
// Desired whose Token is older than one it has applied for the config type.
// Implementations must be safe for concurrent use.
type Applier interface {
	// Snapshot returns the running configuration document.
	Snapshot(ctx context.Context) ([]byte, error)
	// Validate checks a candidate document as a replica would load it,
	// changing nothing.
	Validate(ctx context.Context, doc []byte) error
	// Apply makes d the desired state.
	Apply(ctx context.Context, d Desired) error
}

// Ack is what one live replica reports running.
type Ack struct {
	Replica string `json:"replica"`
	// Applied is the Desired.Ack of the last state it applied; empty for
	// none.
	Applied string `json:"applied"`
}

// AckSource reports the live replicas and what they run (the fleet's
// membership heartbeats, or Local for one process).
type AckSource interface {
	Acks(ctx context.Context) ([]Ack, error)
}

// WindowStore sums the fleet's observation windows: every replica adds its
// counts of a window, the judge reads the sums.
// Implementations must be safe for concurrent use.
type WindowStore interface {
	// AddWindow adds w to (rollout, window, cohort).
	AddWindow(ctx context.Context, rollout string, window int64, c Cohort, w Window) error
	// Window returns the sum of (rollout, window, cohort).
	Window(ctx context.Context, rollout string, window int64, c Cohort) (Window, error)
	// Drop forgets a rollout's windows.
	Drop(ctx context.Context, rollout string) error
}

// Flusher is an Applier that also observes: it returns the outcome counts
// of each cohort since its last flush.
type Flusher interface {
	Flush(ctx context.Context, rollout string) ([NumCohorts]Window, error)
}

var rejectionReasons = baldur.Reasons()
