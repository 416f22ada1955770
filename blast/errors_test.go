package blast_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/clock"
)

func TestSentinelsMatchRejections(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(0, 0))
	br, err := blast.NewBreakers(blast.BreakerConfig{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	br.ForceOpen(blast.Partition{Key: "k"}, time.Minute)
	_, err = br.Admit(context.Background(), baldur.Call{Key: "k", Now: clk.Now()})
	if !errors.Is(err, blast.ErrBreakerOpen) || !errors.Is(err, baldur.ErrRejected) || errors.Is(err, blast.ErrShareCap) {
		t.Fatalf("forced-open partition: %v", err)
	}
	sc, err := blast.NewShareCap(blast.ShareCapConfig{MaxPerKey: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := sc.Admit(context.Background(), baldur.Call{Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(baldur.Outcome{})
	_, err = sc.Admit(context.Background(), baldur.Call{Key: "k"})
	if !errors.Is(err, blast.ErrShareCap) || !errors.Is(err, baldur.ErrRejected) {
		t.Fatalf("second in-flight call of one key: %v", err)
	}
}
