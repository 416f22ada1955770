package dlq_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/dlq"
)

func TestEntryRecordRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 7, time.UTC)
	for _, e := range []dlq.Entry{
		{ID: "x"},
		{ID: "a-1", Domain: "payments", Operation: "/pay.v1.Pay/Charge", Tier: baldur.TierCritical, Origin: dlq.OriginGRPC, Method: "POST",
			URL: "https://h/p?q=1", Header: map[string]string{"Content-Type": "application/json", "X-Request-Id": "r"}, Payload: []byte("{}"),
			Truncated: true, PayloadDropped: "mask_error", FailureType: "timeout", Error: "deadline", Group: "0123456789abcdef", TraceID: "tr",
			Attempts: 1, Status: dlq.RequiresReview, LeaseUntil: at.Add(time.Minute), Holder: 99, CreatedAt: at, UpdatedAt: at.Add(time.Second), ExpiresAt: at.Add(72 * time.Hour)},
	} {
		b := dlq.AppendEntry(nil, &e)
		got, err := dlq.DecodeEntry(b)
		require.NoError(t, err)
		assert.Equal(t, e, got)
		for i := range b {
			_, err := dlq.DecodeEntry(b[:i])
			assert.ErrorIs(t, err, dlq.ErrMalformed, "truncated at %d", i)
		}
		_, err = dlq.DecodeEntry(append(b, 0))
		assert.ErrorIs(t, err, dlq.ErrMalformed, "trailing byte")
	}
}

func FuzzDecodeEntry(f *testing.F) {
	e := dlq.Entry{ID: "a", Domain: "d", Header: map[string]string{"k": "v"}, Payload: []byte("p"), CreatedAt: time.Unix(1, 0)}
	f.Add(dlq.AppendEntry(nil, &e))
	f.Add([]byte{1})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := dlq.DecodeEntry(b)
		if err != nil {
			assert.ErrorIs(t, err, dlq.ErrMalformed)
			return
		}
		assert.LessOrEqual(t, len(e.Payload), dlq.MaxPayload)
		again, err := dlq.DecodeEntry(dlq.AppendEntry(nil, &e))
		require.NoError(t, err, "a decoded record re-encodes")
		assert.Equal(t, e, again)
	})
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	a := dlq.Fingerprint("payments", "POST /charges", "timeout", "timeout after 1503ms on order 7781 id=3f2a9c1e77aa")
	b := dlq.Fingerprint("payments", "POST /charges", "timeout", "timeout after 2011ms on order 12 id=99ab01cd23ef")
	assert.Equal(t, a, b, "numbers and ids fold")
	assert.Len(t, a, 16)
	assert.NotEqual(t, a, dlq.Fingerprint("payments", "POST /charges", "http_503", "timeout after 1503ms on order 7781"), "failure type counts")
	assert.NotEqual(t, a, dlq.Fingerprint("mail", "POST /charges", "timeout", "timeout after 1503ms on order 7781"), "domain counts")
	assert.Equal(t, dlq.Fingerprint("d", "o", "t", `user "alice" refused`), dlq.Fingerprint("d", "o", "t", `user "bob" refused`), "quoted values fold")
}
