package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bulkhead"
)

func ExampleNew() {
	db, err := bulkhead.New(bulkhead.Config{Name: "db", MaxConcurrent: 1})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	p, _ := db.Acquire(ctx)

	// MaxWait is zero: a full compartment rejects at once.
	_, err = db.Acquire(ctx)
	fmt.Println(err)
	fmt.Println(errors.Is(err, bulkhead.ErrFull), errors.Is(err, baldur.ErrRejected))

	p.Release(baldur.Outcome{})
	err = db.Execute(ctx, func(context.Context) error { return nil })
	fmt.Println(err)
	// Output:
	// bulkhead "db" full: 1/1 active, 0 waiting
	// true true
	// <nil>
}

func ExampleSemaphore_Admit() {
	// A Semaphore is a baldur.Gate: the policy chain runs it last.
	db, _ := bulkhead.New(bulkhead.Config{Name: "db", MaxConcurrent: 1})
	policy, _ := baldur.NewPolicy(baldur.PolicyConfig{Name: "orders", Gates: []baldur.Gate{db}})
	ctx := context.Background()

	t, err := policy.Admit(ctx, baldur.Call{Operation: "GET /orders"})
	fmt.Println(err)
	_, err = policy.Admit(ctx, baldur.Call{Operation: "GET /orders"})
	rej, _ := baldur.AsRejection(err)
	fmt.Println(rej.Reason(), rej.HTTPStatus(), rej.RetryAfterSeconds())
	t.Release(baldur.Outcome{Result: baldur.Success})
	// Output:
	// <nil>
	// bulkhead_full 503 1
}

func ExampleNewPool() {
	pool, err := bulkhead.NewPool(bulkhead.PoolConfig{Name: "render", Workers: 4, QueueSize: 16, Timeout: baldur.Duration(2 * time.Second)})
	if err != nil {
		panic(err)
	}
	defer pool.Close()

	err = pool.Execute(context.Background(), func(ctx context.Context) error {
		// Runs on a worker; ctx carries the caller's values and ends at
		// the caller's cancellation or after Timeout.
		return nil
	})
	fmt.Println(err, pool.State().Kind)
	// Output: <nil> pool
}

func ExampleNewRegistry() {
	reg := bulkhead.NewRegistry()
	db, _ := reg.GetOrCreate("db", bulkhead.Config{MaxConcurrent: 12, MaxWait: baldur.Duration(50 * time.Millisecond)})
	same, _ := reg.GetOrCreate("db", bulkhead.Config{MaxConcurrent: 12, MaxWait: baldur.Duration(50 * time.Millisecond)})
	fmt.Println(db == same)

	_, err := reg.GetOrCreate("db", bulkhead.Config{MaxConcurrent: 20})
	fmt.Println(err)

	_, err = reg.Get("cache")
	fmt.Println(err)
	for _, st := range reg.States() {
		fmt.Println(st.Name, st.Kind, st.MaxConcurrent, st.Active, st.Waiting)
	}
	// Output:
	// true
	// baldur: invalid config: MaxConcurrent = 20: conflicts with registered compartment "db" (has 12)
	// bulkhead: unknown compartment "cache" (registered: db)
	// db semaphore 12 0 0
}

func ExampleNewTiered() {
	gate, _ := bulkhead.NewTiered(bulkhead.TieredConfig{
		Name: "api",
		// Critical traffic gets 200 permits; the other tiers keep their
		// defaults (standard 50 / 30 ms, non_essential 20 / fail fast).
		Tiers: map[baldur.Tier]bulkhead.TierLimit{
			baldur.TierCritical: {MaxConcurrent: 200, MaxWait: baldur.Duration(50 * time.Millisecond)},
		},
	})
	for _, s := range gate.Compartments() {
		c := s.Config()
		fmt.Println(c.Name, c.MaxConcurrent, c.MaxWait)
	}
	p, err := gate.Admit(context.Background(), baldur.Call{Tier: baldur.TierNonEssential})
	fmt.Println(err, gate.Compartment(baldur.TierNonEssential).State().Active)
	p.Release(baldur.Outcome{})
	// Output:
	// api.critical 200 50ms
	// api.standard 50 30ms
	// api.non_essential 20 0s
	// <nil> 1
}
