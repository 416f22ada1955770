package lock_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/baldur-go/baldur/lock"
)

// A recovery run takes the namespace without blocking: held false means
// another session is already on it.
func ExampleNewMemory() {
	l, err := lock.NewMemory(lock.MemoryConfig{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	first, _ := l.Acquire(ctx, "runbook:checkout", "pod-a", false)
	second, _ := l.Acquire(ctx, "runbook:checkout", "pod-b", false)
	fmt.Println(first, second)
	// Output: true false
}

// Hold keeps the lease while the work runs and cancels the work's context
// when it is lost; every write carries the lease's token, so a store that
// fences refuses a holder that lost its lease.
func ExampleHold() {
	l, _ := lock.NewMemory(lock.MemoryConfig{})
	var rollout lock.Guarded[int] // the resource the lock protects
	h, held, err := lock.Hold(context.Background(), l, "rollout:cart", "pod-a", lock.HoldConfig{})
	if err != nil || !held {
		return // another replica is rolling out, or the lock is unavailable
	}
	defer h.Release(context.Background())
	work := h.Context()
	for stage := 1; stage <= 3 && work.Err() == nil; stage++ {
		if err := rollout.Write(h.Token(), func(s *int) { *s = stage }); errors.Is(err, lock.ErrStaleToken) {
			return
		}
	}
	v, _ := rollout.Load()
	fmt.Println("stage", v)
	// Output: stage 3
}

// A fence remembers the largest token it has seen and refuses smaller ones.
func ExampleFence() {
	var f lock.Fence
	fmt.Println(f.Admit(7), f.Admit(7) == nil, errors.Is(f.Admit(6), lock.ErrStaleToken))
	// Output: <nil> true true
}
