package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/throttle"
)

func ExampleNew() {
	clk := clock.NewFake(time.Unix(0, 0))
	th, err := throttle.New(throttle.Config{
		Name:  "api",
		Rate:  2, // calls per second
		Burst: 3,
		Clock: clk,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	call := baldur.Call{Key: "203.0.113.7", Operation: "GET /items"}
	for i := range 4 {
		call.Now = clk.Now()
		_, err := th.Admit(ctx, call)
		if rej, ok := baldur.AsRejection(err); ok {
			fmt.Println(i, errors.Is(err, baldur.ErrThrottled), "retry after", rej.RetryAfter())
			continue
		}
		fmt.Println(i, "admitted")
	}
	// Output:
	// 0 admitted
	// 1 admitted
	// 2 admitted
	// 3 true retry after 1s
}

func ExampleAppendRateLimit() {
	clk := clock.NewFake(time.Unix(0, 0))
	th, _ := throttle.New(throttle.Config{Name: "api", Rate: 10, Burst: 20, Clock: clk})
	policy, _ := baldur.NewPolicy(baldur.PolicyConfig{Name: "items", Gates: []baldur.Gate{th}, Clock: clk})

	ticket, _ := policy.Admit(context.Background(), baldur.Call{Key: "tenant-1"})
	defer ticket.Release(baldur.Outcome{})
	q, _ := policy.Quota(baldur.TierStandard)
	s, _ := ticket.QuotaStatus(baldur.TierStandard)

	buf := make([]byte, 0, 64) // reused across calls: no allocation
	buf = throttle.AppendPolicy(buf[:0], q)
	fmt.Printf("%s: %s\n", throttle.HeaderPolicy, buf)
	buf = throttle.AppendRateLimit(buf[:0], s)
	fmt.Printf("%s: %s\n", throttle.HeaderRateLimit, buf)
	// Output:
	// RateLimit-Policy: "api";q=20;w=2
	// RateLimit: "api";r=19;t=1
}

func ExampleDecide() {
	l, _ := throttle.NewLimit(1, 2) // one call per second, burst 2
	state := throttle.Fresh
	for _, at := range []time.Duration{0, 0, 0, 1500 * time.Millisecond} {
		d, next := throttle.Decide(state, int64(at), l, 0)
		state = next
		fmt.Println(at, d.Allowed, d.Remaining, d.RetryAfter)
	}
	// Output:
	// 0s true 1 0s
	// 0s true 0 0s
	// 0s false 0 1s
	// 1.5s true 0 0s
}
