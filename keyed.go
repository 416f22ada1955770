package baldur

// KeyedResolver is a Resolver that may answer a different policy per
// partition key: while a canary rollout splits traffic, the keys of its
// cohort resolve in the candidate's policy table. An adapter that knows the
// call's key before admission checks for it with a type assertion, as
// net/http checks for http.Flusher, and calls PolicyFor instead of Policy;
// any other adapter keeps resolving by operation and sees the running
// policies only.
type KeyedResolver interface {
	Resolver
	// PolicyFor returns the policy of operation for a call partitioned by
	// key. It must not lock or allocate.
	PolicyFor(operation, key string) *Policy
}
