package admin

import (
	"context"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/baldur-go/baldur/idempotency"
)

// Idempotency is what the idempotency endpoints need of a ledger; every
// idempotency.Ledger has it (redisstore.Idempotency, idempotency.Memory).
// Implementations must be safe for concurrent use.
type Idempotency interface {
	Lookup(ctx context.Context, k idempotency.Key) (idempotency.Record, bool, error)
	ForceRelease(ctx context.Context, k idempotency.Key) (bool, error)
}

// idempotencyRoutes registers GET /idempotency/record (OPERATOR: a
// record's status and times, never its body, scope or key) and DELETE
// /idempotency/record (ADMIN, audited: release a stuck in-progress claim).
func (s *Server) idempotencyRoutes() {
	s.route("GET /idempotency/record", AccessOperator, "", maxControlBody, s.idemLookup)
	s.route("DELETE /idempotency/record", AccessAdmin, "idempotency.release", maxControlBody, s.idemRelease)
}

type idemRecordView struct {
	Digest      string     `json:"digest"`
	Status      string     `json:"status"`
	ClaimedAt   time.Time  `json:"claimed_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	Replayable  bool       `json:"replayable"`
	StoredBytes int        `json:"stored_bytes"`
}

type idemRef struct {
	Domain    string `json:"domain"`
	Operation string `json:"operation"`
	Scope     string `json:"scope"`
	Key       string `json:"key"`
	Reason    string `json:"reason,omitempty"`
}

func (in *idemRef) validate() *apiError {
	if err := idempotency.ValidKey(in.Key); err != nil {
		return badRequest("key", err.Error())
	}
	for _, f := range []struct{ name, v string }{{"domain", in.Domain}, {"operation", in.Operation}, {"scope", in.Scope}} {
		if e := checkText(f.name, f.v, false, 512); e != nil {
			return e
		}
	}
	return checkText("reason", in.Reason, false, 512)
}

func (in *idemRef) key() idempotency.Key {
	return idempotency.Key{Domain: in.Domain, Operation: in.Operation, Scope: in.Scope, Key: in.Key}
}

// digest names a record in answers and audit records without its key.
func digest(k idempotency.Key) string {
	d := k.Digest()
	return hex.EncodeToString(d[:8])
}

func (s *Server) idemLedger() (Idempotency, *apiError) {
	if s.cfg.Idempotency == nil {
		return nil, &apiError{status: http.StatusNotFound, msg: "no idempotency ledger configured"}
	}
	return s.cfg.Idempotency, nil
}

func (s *Server) idemLookup(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	l, e := s.idemLedger()
	if e != nil {
		return nil, nil, e
	}
	q := r.URL.Query()
	in := idemRef{Domain: q.Get("domain"), Operation: q.Get("operation"), Scope: q.Get("scope"), Key: q.Get("key")}
	if e := in.validate(); e != nil {
		return nil, nil, e
	}
	rec, ok, err := l.Lookup(r.Context(), in.key())
	if err != nil {
		return nil, nil, internal("idempotency lookup", err)
	}
	if !ok {
		return nil, nil, &apiError{status: http.StatusNotFound, msg: "no record for this key (never used, released or expired)"}
	}
	v := idemRecordView{Digest: digest(in.key()), Status: rec.Status.String(), ClaimedAt: rec.ClaimedAt, Replayable: rec.Replayable, StoredBytes: rec.StoredBytes}
	if !rec.CompletedAt.IsZero() {
		v.CompletedAt = &rec.CompletedAt
	}
	if !rec.ExpiresAt.IsZero() {
		v.ExpiresAt = &rec.ExpiresAt
	}
	return v, nil, nil
}

func (s *Server) idemRelease(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	l, e := s.idemLedger()
	if e != nil {
		return nil, nil, e
	}
	var in idemRef
	if e := decodeInput(r, &in); e != nil {
		return nil, nil, e
	}
	attrs := []slog.Attr{slog.String("domain", in.Domain), slog.String("operation", in.Operation),
		slog.String("digest", digest(in.key())), slog.String("reason", in.Reason)}
	released, err := l.ForceRelease(r.Context(), in.key())
	if err != nil {
		return nil, attrs, internal("idempotency release", err)
	}
	attrs = append(attrs, slog.Bool("released", released))
	if !released {
		return nil, attrs, &apiError{status: http.StatusConflict, msg: "no in-progress claim for this key (a completed record is kept until it expires)"}
	}
	return map[string]any{"released": true, "digest": digest(in.key())}, attrs, nil
}
