package idempotency_test

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur/idempotency"
	"github.com/baldur-go/baldur/internal/enum/enumtest"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	enumtest.RoundTrip(t, idempotency.NumStatuses, idempotency.Status.String, idempotency.ParseStatus, idempotency.Status.Valid)
	assert.Equal(t, "in_progress", idempotency.InProgress.String())
	assert.Equal(t, "completed", idempotency.Completed.String())
	assert.Equal(t, "released", idempotency.Released.String())
}

func TestZeroRecordBlocks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var idem idempotency.Record
	assert.True(t, idem.Status == idempotency.InProgress && idem.Blocks(now) && !idem.Expired(now), "the zero record blocks (fail closed)")
}

func TestRecordBlocks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(idempotency.TTL)
	tests := []struct {
		status  idempotency.Status
		expires time.Time
		want    bool
	}{
		{idempotency.InProgress, exp, true},
		{idempotency.Completed, exp, true},
		{idempotency.Released, exp, false},
		{idempotency.InProgress, now, false},
		{idempotency.Completed, now.Add(-time.Second), false},
		{idempotency.InProgress, time.Time{}, true},
		{idempotency.Status(200), exp, true},
		{idempotency.Status(200), now, false},
	}
	for _, tt := range tests {
		r := idempotency.Record{Status: tt.status, ExpiresAt: tt.expires}
		assert.Equal(t, tt.want, r.Blocks(now), "Blocks(%v, expires %v)", tt.status, tt.expires.Sub(now))
	}
}

func TestKeyDigestSeparatesFields(t *testing.T) {
	t.Parallel()
	a := idempotency.Key{Domain: "a", Operation: "b", Scope: "c", Key: "d"}
	b := idempotency.Key{Domain: "ab", Operation: "", Scope: "c", Key: "d"}
	assert.NotEqual(t, a.Digest(), b.Digest())
	assert.Equal(t, a.Digest(), a.Digest())
}

// TestKeyDigestIsTheRecordName: Digest is the SHA-256 of each field's
// 4-byte big-endian length and bytes, in order (the name Redis records are
// stored under, so it must not drift), for short keys (a stack buffer) and
// long ones alike, without allocating for the short.
func TestKeyDigestIsTheRecordName(t *testing.T) {
	ref := func(k idempotency.Key) [32]byte {
		h := sha256.New()
		for _, s := range []string{k.Domain, k.Operation, k.Scope, k.Key} {
			var n [4]byte
			binary.BigEndian.PutUint32(n[:], uint32(len(s)))
			h.Write(n[:])
			h.Write([]byte(s))
		}
		var d [32]byte
		h.Sum(d[:0])
		return d
	}
	for _, k := range []idempotency.Key{
		{},
		{Domain: "payments", Operation: "POST /charges", Scope: "tenant-1", Key: "8e03978e"},
		{Domain: strings.Repeat("d", 300), Operation: strings.Repeat("o", 300), Scope: "s", Key: strings.Repeat("k", 255)},
	} {
		assert.Equal(t, ref(k), k.Digest())
	}
	k := idempotency.Key{Domain: "payments", Operation: "POST /charges", Scope: "tenant-1", Key: "8e03978e"}
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = k.Digest() }))
}
