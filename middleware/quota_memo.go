package middleware

import (
	"net/http"
	"sync/atomic"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/proc"
	"github.com/baldur-go/baldur/internal/ratelimit"
)

// On a route of many partitions most admitted calls find their bucket full
// and leave it one call short of full, so their permits carry the same
// quota token. The RateLimit values of a token never change within a
// policy (baldur.Ticket.QuotaToken), so the middleware keeps the values of
// the last token it wrote, one memo per P, and a call with that token
// writes them without decoding its status or looking its values up: about
// a fifth of the middleware's time on such a route. A call with another
// token (a partition counting down) takes the full path and leaves its
// values in the memo of its P.
//
// A memo holds only values the quota cache interned, so that keeping one
// allocates nothing, and only for servers that write the IETF fields
// alone (the legacy X-RateLimit-* fields take the full path).

// quotaMemo is one P's memo: the policy, tier and token of a call and the
// values written for it. Its fields change together under a sequence
// count, odd while a writer changes them; a reader that sees the count
// change, or odd, takes the full path, and a writer that finds another
// writer at work leaves the memo to it.
type quotaMemo struct {
	seq    atomic.Uint64
	policy atomic.Pointer[baldur.Policy]
	token  atomic.Uint64
	tier   atomic.Uint32
	values atomic.Pointer[quotaValues]
	value  atomic.Pointer[[]string] // the RateLimit value, interned in values
	_      [16]byte                 // one cache line per memo
}

// quotaMemos are a server's memos, one per P up to four. They are safe for
// concurrent use.
type quotaMemos struct {
	mask int
	m    [4]quotaMemo
}

func newQuotaMemos() *quotaMemos {
	return &quotaMemos{mask: proc.Stripes(4) - 1}
}

// lookup returns the RateLimit-Policy and RateLimit values kept for a
// call of p and tier whose permit carries token, and false when the
// caller's memo holds another call's.
func (ms *quotaMemos) lookup(p *baldur.Policy, tier baldur.Tier, token uint64) (policy, value []string, ok bool) {
	m := &ms.m[proc.Stripe(ms.mask)]
	seq := m.seq.Load()
	if seq&1 != 0 || m.token.Load() != token || m.policy.Load() != p || m.tier.Load() != uint32(tier) {
		return nil, nil, false
	}
	qv, v := m.values.Load(), m.value.Load()
	if m.seq.Load() != seq || qv == nil || v == nil {
		return nil, nil, false
	}
	return qv.policy, *v, true
}

// keep makes the caller's memo hold the values written for a call of p
// and tier whose permit carries token.
func (ms *quotaMemos) keep(p *baldur.Policy, tier baldur.Tier, token uint64, qv *quotaValues, v *[]string) {
	m := &ms.m[proc.Stripe(ms.mask)]
	seq := m.seq.Load()
	if seq&1 != 0 || !m.seq.CompareAndSwap(seq, seq+1) {
		return
	}
	m.policy.Store(p)
	m.tier.Store(uint32(tier))
	m.token.Store(token)
	m.values.Store(qv)
	m.value.Store(v)
	m.seq.Store(seq + 2)
}

// writeAdmitQuota writes the RateLimit fields of an admitted call of p
// whose ticket t holds a quota permit with token.
func (s *server) writeAdmitQuota(h http.Header, p *baldur.Policy, t *baldur.Ticket, tier baldur.Tier, token uint64) {
	ms := s.memos
	if ms == nil {
		if q, ok := t.QuotaStatus(tier); ok {
			s.writeQuota(h, q)
		}
		return
	}
	if policy, v, ok := ms.lookup(p, tier, token); ok {
		h["Ratelimit-Policy"], h["Ratelimit"] = policy, v
		return
	}
	q, ok := t.QuotaStatus(tier)
	if !ok {
		return
	}
	qv := valuesFor(q.Quota)
	reset := ratelimit.Seconds(q.Reset)
	v := qv.internedRateLimit(q.Name, q.Remaining, reset)
	if v == nil {
		h["Ratelimit-Policy"], h["Ratelimit"] = qv.policy, formattedRateLimit(q.Name, q.Remaining, reset)
		return
	}
	h["Ratelimit-Policy"], h["Ratelimit"] = qv.policy, *v
	ms.keep(p, tier, token, qv, v)
}
