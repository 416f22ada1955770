package notify_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/enum/enumtest"
	"github.com/baldur-go/baldur/notify"
)

func TestNoOpNeverBlocks(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, ctx := range []context.Context{context.Background(), cancelled} {
		_, err := notify.NoOp{}.Notify(ctx, notify.Notification{Priority: notify.PriorityCritical})
		assert.NoError(t, err, "a NoOp notifier never fails the action (ctx err %v)", ctx.Err())
	}
}

func TestNoOpSuppressedAsDisabled(t *testing.T) {
	t.Parallel()
	r, err := notify.NoOp{}.Notify(context.Background(), notify.Notification{Priority: notify.PriorityHigh, Title: "x"})
	require.NoError(t, err, "Notify")
	assert.False(t, r.Delivered, "Notify = %+v", r)
	assert.Equal(t, notify.SuppressDisabled, r.Suppressed, "Notify = %+v", r)
	assert.Equal(t, notify.PriorityHigh, r.Priority, "Notify = %+v", r)
	assert.Empty(t, r.Channels, "Notify = %+v", r)
}

func TestPriority(t *testing.T) {
	t.Parallel()
	enumtest.RoundTrip(t, notify.NumPriorities, notify.Priority.String, notify.ParsePriority, notify.Priority.Valid)
	assert.Equal(t, "INFO", notify.PriorityInfo.String())
	assert.Equal(t, "CRITICAL", notify.PriorityCritical.String())
	var note notify.Notification
	var result notify.Result
	assert.Equal(t, notify.PriorityInfo, note.Priority, "the zero notification is info")
	assert.False(t, result.Delivered)
	assert.Equal(t, notify.SuppressNone, result.Suppressed)
}

// Without a notifier, notifications are dropped and say why.
func ExampleNoOp() {
	var n notify.Manager = notify.NoOp{}
	r, err := n.Notify(context.Background(), notify.Notification{Priority: notify.PriorityCritical, Source: "canary", Title: "rollout stalled"})
	fmt.Println(r.Delivered, r.Suppressed, err)
	// Output: false disabled <nil>
}

// A pipeline with one log channel (Slack, webhook and PagerDuty channels read
// their URLs and keys from the environment): the first notification of a key is sent, repeats are
// suppressed by the cooldown.
func ExampleNew() {
	p, err := notify.New(notify.Config{
		Service:  "checkout",
		Channels: []notify.ChannelConfig{{Name: "log", Type: notify.TypeLog}},
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer p.Close(context.Background())
	n := notify.Notification{Priority: notify.PriorityHigh, Source: "governance", Title: "store unreadable"}
	r, _ := p.Notify(context.Background(), n)
	fmt.Println(r.Delivered, r.Channels)
	r, _ = p.Notify(context.Background(), n)
	fmt.Println(r.Delivered, r.Suppressed)
	// Output:
	// true [log]
	// false cooldown
}
