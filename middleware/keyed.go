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
		key := s.key(r)
		return key, s.keyed.PolicyFor(op, key)
	}
	p := s.resolver.Policy(op)
	if p == nil {
		return "", nil
	}
	return s.key(r), p
}
