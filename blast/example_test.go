package blast_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/clock"
)

func ExampleNewBreakers() {
	clk := clock.NewFake(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	breakers, err := blast.NewBreakers(blast.BreakerConfig{
		PartitionBy: blast.ByKey, // one breaker per upstream host
		OnStateChange: func(p blast.Partition, from, to blast.State) {
			fmt.Printf("%s: %s -> %s\n", p.Key, from, to)
		},
		Clock: clk,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for i := 0; i < 5; i++ { // five 502s in a row from one host
		p, err := breakers.Admit(ctx, baldur.Call{Key: "10.0.0.7:8080", Now: clk.Now()})
		if err != nil {
			panic(err)
		}
		p.Release(baldur.Outcome{Result: baldur.Failure, Status: 502})
	}
	_, err = breakers.Admit(ctx, baldur.Call{Key: "10.0.0.7:8080", Now: clk.Now()})
	rej, _ := baldur.AsRejection(err)
	fmt.Println(rej.Reason(), rej.RetryAfter())
	_, err = breakers.Admit(ctx, baldur.Call{Key: "10.0.0.8:8080", Now: clk.Now()})
	fmt.Println("other host admitted:", err == nil)
	// Output:
	// 10.0.0.7:8080: closed -> open
	// breaker_open 1m0s
	// other host admitted: true
}

func ExampleBreakers_ForceOpen() {
	clk := clock.NewFake(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	breakers, _ := blast.NewBreakers(blast.BreakerConfig{Clock: clk})
	breakers.ForceOpen(blast.Partition{Key: "tenant-42"}, 15*time.Minute)
	_, err := breakers.Admit(context.Background(), baldur.Call{Key: "tenant-42", Now: clk.Now()})
	fmt.Println(errors.Is(err, baldur.ErrBreakerOpen), breakers.State(blast.Partition{Key: "tenant-42"}))
	clk.Advance(15 * time.Minute)
	fmt.Println(breakers.State(blast.Partition{Key: "tenant-42"}))
	// Output:
	// true forced_open
	// half_open
}

func ExampleNewShareCap() {
	// No tenant may hold more than a quarter of a 8-slot bulkhead.
	caps, err := blast.NewShareCap(blast.ShareCapConfig{Capacity: 8, Share: 0.25})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	var held []baldur.Permit
	for i := 0; i < 3; i++ {
		p, err := caps.Admit(ctx, baldur.Call{Key: "tenant-a"})
		if err != nil {
			fmt.Println("call", i, "rejected:", err)
			continue
		}
		held = append(held, p)
	}
	fmt.Println("tenant-a in flight:", caps.InFlight("tenant-a"))
	for i := range held {
		held[i].Release(baldur.Outcome{})
	}
	// Output:
	// call 2 rejected: baldur: rejected by blast: share_cap (retry after 1s)
	// tenant-a in flight: 2
}
