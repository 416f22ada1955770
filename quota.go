package baldur

import "time"

// Quota is a rate quota as advertised to clients in the IETF RateLimit-Policy
// field: Limit units per Window, under a policy Name. It never contains the
// partition key.
type Quota struct {
	// Name is the quota policy's name (the "p" item name of the header).
	Name string
	// Limit is the quota per Window (the "q" parameter).
	Limit int64
	// Window is the quota window (the "w" parameter), whole seconds.
	Window time.Duration
}

// QuotaStatus is a quota and what is left of it for one partition.
type QuotaStatus struct {
	Quota
	// Remaining is the number of units left now (the "r" parameter).
	Remaining int64
	// Reset is the time until the quota is fully restored (the "t"
	// parameter).
	Reset time.Duration
}

// QuotaReporter is implemented by gates that enforce a rate quota (the
// throttle), so that adapters can write RateLimit headers without knowing
// the gate. The gate encodes the admitted call's remaining quota in the
// token of the Permit it grants, and decodes it in QuotaStatus.
type QuotaReporter interface {
	// Quota returns the quota that applies to calls of tier.
	Quota(tier Tier) (Quota, bool)
	// QuotaStatus decodes the status an admitted call's permit token
	// carries. It must be a function of its arguments alone for the
	// gate's life, so that an adapter may keep what it derives from a
	// status (header values) by token (see Ticket.QuotaToken).
	QuotaStatus(tier Tier, token uint64) QuotaStatus
}

// QuotaStatus returns the quota status carried by the permit of the
// ticket's first quota-reporting gate (see QuotaReporter), if the policy has
// one and its permit is still held. The policy notes that permit on
// admission, so a ticket without one answers at once.
func (t *Ticket) QuotaStatus(tier Tier) (QuotaStatus, bool) {
	if t.quota == 0 || t.quota > t.n {
		return QuotaStatus{}, false
	}
	return t.qr.QuotaStatus(tier, t.permits[t.quota-1].token), true
}

// QuotaToken returns the permit token that QuotaStatus decodes, and false
// when QuotaStatus would report none. Within one Policy, equal tiers and
// tokens give equal statuses (a Policy's gates never change, and
// QuotaReporter.QuotaStatus is a function of its arguments), so an adapter
// can keep the header values of a status by policy, tier and token and
// skip decoding the next call that carries the same token: on a route of
// many partitions whose buckets are full, that is nearly every call.
func (t *Ticket) QuotaToken() (uint64, bool) {
	if t.quota == 0 || t.quota > t.n {
		return 0, false
	}
	return t.permits[t.quota-1].token, true
}

// Quota returns the quota of the policy's first quota-enforcing gate for
// tier, for the RateLimit-Policy field of rejections and admits.
func (p *Policy) Quota(tier Tier) (Quota, bool) {
	if p == nil {
		return Quota{}, false
	}
	for i := 0; i < p.n; i++ {
		if p.stages[i].quota {
			return p.stages[i].qr.Quota(tier)
		}
	}
	return Quota{}, false
}
