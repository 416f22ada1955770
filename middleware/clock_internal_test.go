package middleware

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

// TestAdmissionClock: without WithClock the one reading of a request comes
// from the coarse clock (never ahead of the system clock, at most a tick or
// so behind it on an idle machine, here bounded loosely); with WithLatency
// both readings are the system clock's; WithClock wins over both.
func TestAdmissionClock(t *testing.T) {
	build := func(opts ...Option) *server {
		return New(baldur.Static(nil), opts...)(http.NotFoundHandler()).(*server)
	}
	before := time.Now()
	got := build().now()
	assert.False(t, got.After(time.Now()), "coarse reading ahead of the system clock")
	assert.Less(t, before.Sub(got), time.Second)

	before = time.Now()
	got = build(WithLatency()).now()
	assert.False(t, got.Before(before), "with latency the reading is the system clock's")

	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, t0, build(WithClock(clock.NewFake(t0)), WithLatency()).now())
}
