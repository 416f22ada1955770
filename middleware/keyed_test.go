package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/middleware"
)

// keyedResolver answers the candidate policy for tenant "canary" and the
// baseline for every other key.
type keyedResolver struct{ base, cand *baldur.Policy }

func (k keyedResolver) Policy(string) *baldur.Policy { return k.base }
func (k keyedResolver) PolicyFor(_ string, key string) *baldur.Policy {
	if key == "canary" {
		return k.cand
	}
	return k.base
}

// A resolver that resolves per key is asked with the request's key, so a
// tenant in a canary cohort is served by the candidate's policy.
func TestKeyedResolverPicksTheKeysPolicy(t *testing.T) {
	t.Parallel()
	base := &fakeGate{kind: baldur.StageThrottle}
	cand := &fakeGate{kind: baldur.StageThrottle, reason: baldur.ReasonThrottled}
	r := keyedResolver{base: policyOf(t, base), cand: policyOf(t, cand)}
	h := middleware.New(r, middleware.WithKey(func(r *http.Request) string { return r.Header.Get("X-Tenant") }))(
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	for _, tt := range []struct {
		tenant string
		want   int
	}{{"canary", http.StatusTooManyRequests}, {"other", http.StatusOK}} {
		req := httptest.NewRequest("GET", "/x", nil)
		req.Header.Set("X-Tenant", tt.tenant)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, tt.want, rec.Code, tt.tenant)
	}
	c, _ := cand.lastCall.Load().(baldur.Call)
	assert.Equal(t, "canary", c.Key, "the key resolved by is the call's key")
}
