package redisstore

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/lock"
)

// TestCanaryWindowsSumTheFleet: two replicas flush their counts of one
// window; the judge reads the exact sum per cohort; Drop forgets the
// rollout.
func TestCanaryWindowsSumTheFleet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	b := newBackend(t, s.Client(t, nil), Config{Logger: discard()})
	ws, err := NewCanaryWindows(b, CanaryWindowsConfig{Prefix: prefix(t)})
	require.NoError(t, err)
	flush := func(success, failure, throttled uint64, lat time.Duration) canary.Window {
		var r canary.Recorder
		for range success {
			r.Record(0, baldur.Outcome{Result: baldur.Success, Latency: lat})
		}
		for range failure {
			r.Record(1, baldur.Outcome{Result: baldur.Failure, Latency: lat})
		}
		return canary.Window{Counts: r.Snapshot(), Rejected: map[string]uint64{"throttled": throttled}}
	}
	require.NoError(t, ws.AddWindow(ctx, "r1", 42, canary.Candidate, flush(90, 10, 50, 20*time.Millisecond)))
	require.NoError(t, ws.AddWindow(ctx, "r1", 42, canary.Candidate, flush(80, 0, 25, 40*time.Millisecond)))
	require.NoError(t, ws.AddWindow(ctx, "r1", 42, canary.Baseline, flush(1000, 5, 0, 20*time.Millisecond)))

	got, err := ws.Window(ctx, "r1", 42, canary.Candidate)
	require.NoError(t, err)
	assert.Equal(t, uint64(170), got.Success)
	assert.Equal(t, uint64(10), got.Failure)
	assert.Equal(t, uint64(75), got.Rejected["throttled"])
	assert.Equal(t, uint64(180), got.Latency.Total())
	p99, _ := got.Latency.Quantile(0.99)
	assert.InDelta(t, float64(40*time.Millisecond), float64(p99), 0.07*float64(40*time.Millisecond))
	base, err := ws.Window(ctx, "r1", 42, canary.Baseline)
	require.NoError(t, err)
	assert.Equal(t, uint64(1005), base.Requests())
	empty, err := ws.Window(ctx, "r1", 43, canary.Candidate)
	require.NoError(t, err)
	assert.Zero(t, empty.Requests())

	j := canary.Judge(canary.Criteria{}, got, base)
	assert.Equal(t, canary.Fail, j.Verdict, "the fleet's sums are judged: %v", j.Reasons)

	require.NoError(t, ws.Drop(ctx, "r1"))
	got, err = ws.Window(ctx, "r1", 42, canary.Candidate)
	require.NoError(t, err)
	assert.Zero(t, got.Requests(), "dropped")
}

// TestCanaryAcksFromHeartbeats: each replica's heartbeat carries the canary
// state it applied; a member that did not apply the stage is listed
// without it, so the controller cannot count it as applied.
func TestCanaryAcksFromHeartbeats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	kp := prefix(t)
	a := newMembership(t, s.Client(t, nil), kp, "pod-a", nil)
	b := newMembership(t, s.Client(t, nil), kp, "pod-b", nil)
	a.SetCanary("r1:0:canary:abc")
	require.NoError(t, a.Heartbeat(ctx))
	require.NoError(t, b.Heartbeat(ctx))
	acks, err := CanaryAcks(a).Acks(ctx)
	require.NoError(t, err)
	sort.Slice(acks, func(i, j int) bool { return acks[i].Replica < acks[j].Replica })
	assert.Equal(t, []canary.Ack{{Replica: "pod-a", Applied: "r1:0:canary:abc"}, {Replica: "pod-b"}}, acks)
	b.SetCanary("r1:0:canary:abc")
	require.NoError(t, b.Heartbeat(ctx))
	acks, err = CanaryAcks(b).Acks(ctx)
	require.NoError(t, err)
	for _, x := range acks {
		assert.Equal(t, "r1:0:canary:abc", x.Applied, x.Replica)
	}
}

func FuzzParseCanaryWindow(f *testing.F) {
	f.Add("s", "12", "h40", "3", "r:throttled", "9")
	f.Add("h0", "1", "x", "2", "r:", "-1")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		w, err := parseCanaryWindow(map[string]string{k1: v1, k2: v2, k3: v3})
		if err != nil {
			return
		}
		_ = w.Requests()
		_, _ = w.Latency.Quantile(0.95)
	})
}

// TestCanaryDesiredIsFenced: the controller's publishes are read back by
// a replica's agent; a publish under an older lease is refused and changes
// nothing; a panic restore is admitted and keeps the fence's height; data
// that is not ours is ErrMalformed.
func TestCanaryDesiredIsFenced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	c := s.Client(t, nil)
	b := newBackend(t, c, Config{Logger: discard(), Scripts: []*Script{CanaryDesiredScript}})
	kp := prefix(t)
	st, err := NewCanaryDesired(b, kp)
	require.NoError(t, err)
	_, ok, err := st.Desired(ctx, "registry")
	require.NoError(t, err)
	assert.False(t, ok)

	d := canary.Desired{Rollout: "r1", ConfigType: "registry", Stage: 1, Phase: canary.PhaseCanary, Share: 0.05,
		Candidate: []byte(`{"policies":[]}`), Snapshot: []byte(`{"service":"x"}`), Token: 1_700_000_000_000_100, Key: "k1"}
	require.NoError(t, st.Publish(ctx, d))
	got, ok, err := st.Desired(ctx, "registry")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, d, got)

	stale := d
	stale.Rollout, stale.Token = "old", d.Token-1
	assert.ErrorIs(t, st.Publish(ctx, stale), lock.ErrStaleToken)
	got, _, _ = st.Desired(ctx, "registry")
	assert.Equal(t, "r1", got.Rollout, "a stale publish changes nothing")

	restore := stale
	restore.Phase, restore.Panic = canary.PhaseRestore, true
	require.NoError(t, st.Publish(ctx, restore), "a panic restore is always admitted")
	assert.ErrorIs(t, st.Publish(ctx, stale), lock.ErrStaleToken, "and the fence did not go down")
	require.NoError(t, c.Set(ctx, kp+"{canary-desired:bad}", "x", 0).Err())
	assert.ErrorIs(t, st.Publish(ctx, canary.Desired{ConfigType: "bad", Token: 5}), ErrMalformed)
	require.NoError(t, c.HSet(ctx, kp+"{canary-desired:junk}", "token", "1", "doc", "{").Err())
	_, _, err = st.Desired(ctx, "junk")
	assert.ErrorIs(t, err, ErrMalformed)
}

// TestCanaryRecordsCompareAndSet: a record is saved only over the version
// the writer read; a second writer of the same version is refused
// (canary.ErrConflict); the records are read back for a takeover; data
// that is not ours is ErrMalformed.
func TestCanaryRecordsCompareAndSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared.Get(t)
	c := s.Client(t, nil)
	b := newBackend(t, c, Config{Logger: discard(), Scripts: []*Script{CanaryRecordsScript}})
	kp := prefix(t)
	st, err := NewCanaryRecords(b, kp)
	require.NoError(t, err)
	rec := canary.Record{Status: canary.Status{RolloutID: "r1", Type: "registry", Current: canary.Running, Version: 1},
		Plan: canary.Plan{ConfigType: "registry", Candidate: []byte(`{"policies":[]}`), Stages: []canary.Stage{{Share: 0.1}}}, Snapshot: []byte(`{}`)}
	require.NoError(t, st.Save(ctx, rec, 0))
	assert.ErrorIs(t, st.Save(ctx, rec, 0), canary.ErrConflict, "a second create is refused")
	rec.Status.Version, rec.Status.StageIndex = 2, 1
	require.NoError(t, st.Save(ctx, rec, 1))
	other := rec
	other.Status.Version = 3
	assert.ErrorIs(t, st.Save(ctx, other, 1), canary.ErrConflict, "a writer that read version 1 is refused")
	got, err := st.Records(ctx)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, 1, got[0].Status.StageIndex)
	assert.Equal(t, rec.Plan.Candidate, got[0].Plan.Candidate)

	require.NoError(t, c.HSet(ctx, kp+"{canary-records}", "r:bad", "{").Err())
	got, err = st.Records(ctx)
	assert.ErrorIs(t, err, ErrMalformed)
	assert.Len(t, got, 1, "the good record is still returned")
	require.NoError(t, c.Set(ctx, kp+"{canary-records}", "x", 0).Err())
	assert.ErrorIs(t, st.Save(ctx, rec, 2), ErrMalformed)
}
