package admin

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

// policyBreakers returns the gates of the named policy whose breaker
// partitions an operator may force, and whether the policy exists.
func (s *Server) policyBreakers(name string) ([]baldur.BreakerForcer, bool) {
	p, ok := s.cfg.Registry.PolicyByName(name)
	if !ok {
		return nil, false
	}
	var out []baldur.BreakerForcer
	for _, g := range p.Gates() {
		if b, ok := g.(baldur.BreakerForcer); ok {
			out = append(out, b)
		}
	}
	return out, true
}

type partitionView struct {
	Key       string     `json:"partition_key,omitempty"`
	Operation string     `json:"operation,omitempty"`
	State     string     `json:"state"`
	Until     *time.Time `json:"until,omitempty"`
}

type forceRequest struct {
	Policy       string            `json:"policy"`
	PartitionKey string            `json:"partition_key"`
	Operation    string            `json:"operation"`
	State        string            `json:"state"`
	TTL          registry.Duration `json:"ttl"`
}

func (in *forceRequest) validate() *apiError {
	if e := checkText("policy", in.Policy, true, maxKeyLen); e != nil {
		return e
	}
	if e := checkText("partition_key", in.PartitionKey, false, maxKeyLen); e != nil {
		return e
	}
	if e := checkText("operation", in.Operation, false, maxKeyLen); e != nil {
		return e
	}
	if in.State != "open" && in.State != "closed" && in.State != "auto" {
		return badRequest("state", "state must be open, closed or auto")
	}
	return checkDuration("ttl", in.TTL)
}

// forceBreaker forces a breaker partition open or closed, or lifts the
// force ("auto"): POST /breakers/force. The partition is named by
// partition_key, operation or both, as the breaker partitions (the fields
// it does not use are ignored). A zero ttl means the breaker's ForceTTL.
func (s *Server) forceBreaker(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	var in forceRequest
	e := decodeInput(r, &in)
	// The partition key may identify a tenant or a client: it is logged
	// for an audit trail of an ADMIN action, as the kill switch pattern is.
	attrs := []slog.Attr{slog.String("policy", truncate(in.Policy)), slog.String("partition_key", truncate(in.PartitionKey)),
		slog.String("operation", truncate(in.Operation)), slog.String("state", truncate(in.State)), slog.Duration("ttl", in.TTL.D())}
	if e != nil {
		return nil, attrs, e
	}
	bs, ok := s.policyBreakers(in.Policy)
	if !ok {
		return nil, attrs, badRequest("policy", "no policy named "+in.Policy)
	}
	if len(bs) == 0 {
		return nil, attrs, badRequest("policy", "policy "+in.Policy+" has no breaker")
	}
	force := map[string]baldur.Force{"open": baldur.ForceOpen, "closed": baldur.ForceClosed, "auto": baldur.ForceNone}[in.State]
	out := make([]partitionView, 0, len(bs))
	for _, b := range bs {
		state, err := b.ForcePartition(in.PartitionKey, in.Operation, force, in.TTL.D())
		if err != nil {
			// A breaker refuses a force beyond its forced-partition bound;
			// breakers of the policy already forced keep their force, and
			// the answer says which.
			e := &apiError{status: http.StatusConflict, msg: err.Error() + " (forced so far: " + strconv.Itoa(len(out)) + " of " + strconv.Itoa(len(bs)) + " breakers; unforce a partition or wait for a force to end)"}
			return nil, append(attrs, slog.Int("forced_breakers", len(out))), e
		}
		out = append(out, partitionView{Key: in.PartitionKey, Operation: in.Operation, State: state})
	}
	return struct {
		Policy   string          `json:"policy"`
		Breakers []partitionView `json:"breakers"`
	}{in.Policy, out}, attrs, nil
}
