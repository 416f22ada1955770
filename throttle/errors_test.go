package throttle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/throttle"
)

func TestErrThrottledMatchesRejections(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Unix(0, 0))
	th, err := throttle.New(throttle.Config{Rate: 1, Burst: 1, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	c := baldur.Call{Key: "k", Now: clk.Now()}
	if _, err := th.Admit(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	_, err = th.Admit(context.Background(), c)
	if !errors.Is(err, throttle.ErrThrottled) || !errors.Is(err, baldur.ErrRejected) {
		t.Fatalf("second call: %v, want ErrThrottled and ErrRejected", err)
	}
	if !errors.Is(throttle.ErrThrottled, baldur.ErrRejected) {
		t.Fatal("the sentinel itself must match baldur.ErrRejected")
	}
}
