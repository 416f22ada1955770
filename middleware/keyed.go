package middleware

import (
	"net/http"

	"github.com/baldur-go/baldur"
)

// resolve returns the request's partition key and policy. A resolver that
// resolves per key (a registry during a canary rollout) is asked with the
// key, so that a tenant sees its cohort's policy; any other is asked by
// operation, and the key is only computed for a guarded request.
func (s *server) resolve(op string, r *http.Request) (string, *baldur.Policy) {
	if s.keyed != nil {
		key := s.partitionKey(r)
		return key, s.keyed.PolicyFor(op, key)
	}
	p := s.resolver.Policy(op)
	if p == nil {
		return "", nil
	}
	return s.partitionKey(r), p
}

// partitionKey is the request's key. The default key is a direct call:
// through the method value it would not inline.
func (s *server) partitionKey(r *http.Request) string {
	if s.defaultKey {
		return s.trusted.ClientIP(r)
	}
	return s.key(r)
}

// resolve returns an outgoing request's policy and partition key as the
// server middleware does: by key through a resolver that resolves per key,
// else by operation with the key only computed for a guarded request.
func (t *transport) resolve(req *http.Request, op, host string) (*baldur.Policy, string) {
	if t.keyed != nil {
		key := t.keyOf(req, host)
		return t.keyed.PolicyFor(op, key), key
	}
	p := t.r.Policy(op)
	if p == nil {
		return nil, ""
	}
	return p, t.keyOf(req, host)
}

// keyOf is an outgoing request's partition key: the Key function's, else
// the upstream host.
func (t *transport) keyOf(req *http.Request, host string) string {
	if t.key != nil {
		return t.key(req)
	}
	return host
}
