package notify_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/notify"
)

// notifyAll sends n notifications from another goroutine (every 300th
// CRITICAL, the rest WARNING) and fails the test if they have not all
// returned within a generous bound: Notify must not wait on a send, so
// only a Notify blocked on the hanging endpoint could take that long. How
// fast it returns is BenchmarkNotifyChannelDown's to say, not a test's.
func notifyAll(t *testing.T, p *notify.Pipeline, prefix string, n int) {
	t.Helper()
	type res struct {
		r   notify.Result
		err error
	}
	done := make(chan []res, 1)
	go func() {
		out := make([]res, 0, n)
		for i := range n {
			pr := notify.PriorityWarning
			if i%300 == 0 {
				pr = notify.PriorityCritical
			}
			r, err := p.Notify(context.Background(), notify.Notification{Priority: pr, Source: "s", Key: prefix + strconv.Itoa(i), Title: "t"})
			out = append(out, res{r, err})
		}
		done <- out
	}()
	select {
	case out := <-done:
		for _, r := range out {
			require.NoError(t, r.err)
			require.True(t, r.r.Delivered, "queued")
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%d Notify calls did not return while the endpoint hangs: Notify waits on a send", n)
	}
}

// A dead endpoint opens the channel's breaker; then, the endpoint hanging
// too, Notify keeps returning (the send is off the caller's goroutine), the
// queue stays bounded and every notification beyond it is a counted drop
// (oldest non-CRITICAL first).
func TestChannelDownBreakerOpensQueueBoundedNotifyReturns(t *testing.T) {
	t.Parallel()
	hook := newSink(t)
	hook.set(http.StatusInternalServerError, nil)
	p, clk, _ := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true},
		Channels: []notify.ChannelConfig{{Name: "hook", Type: notify.TypeWebhook, URLEnv: "H", QueueSize: 5, MaxAttempts: 1,
			Breaker: blast.BreakerConfig{ConsecutiveFailures: 3, OpenTimeout: baldur.Duration(time.Minute)}}}},
		env{"H": hook.srv.URL})
	ctx := context.Background()
	for i := range 3 {
		r, err := p.Notify(ctx, notify.Notification{Priority: notify.PriorityHigh, Source: "s", Key: "f" + strconv.Itoa(i), Title: "t"})
		require.NoError(t, err)
		require.True(t, r.Delivered, "queued")
		<-hook.entered // one failed send at a time
	}
	require.Eventually(t, func() bool { return p.Channels()[0].BreakerOpen }, 10*time.Second, time.Millisecond, "breaker opens after 3 failures")

	// The endpoint now hangs too: were Notify to wait for a send it would
	// never return.
	hook.block()
	before := p.Channels()[0].Dropped
	notifyAll(t, p, "k", 1000)
	st := p.Channels()[0]
	assert.LessOrEqual(t, st.QueueDepth, 5, "queue bounded")
	assert.GreaterOrEqual(t, st.Dropped-before, uint64(1000-5), "every notification beyond the queue's 5 is a counted drop")
	assert.True(t, st.BreakerOpen)
	assert.NotContains(t, st.LastError, hook.srv.URL)
	assert.Eventually(t, func() bool { return clk.Pending() > 0 }, 10*time.Second, time.Millisecond,
		"the worker waits on the clock, it does not spin")
	select {
	case <-hook.entered:
		t.Fatal("a send reached the endpoint while the breaker is open")
	default:
	}
}

// With the breaker still closed and the worker stuck inside a send to an
// endpoint that never answers, Notify still returns: callers never share
// the worker's wait.
func TestNotifyReturnsWhileASendHangs(t *testing.T) {
	t.Parallel()
	hook := newSink(t)
	hook.block()
	p, _, _ := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true},
		// The send's timeout is on the wall clock: an hour keeps the
		// worker in the send for the whole test, however slow the machine.
		Channels: []notify.ChannelConfig{{Name: "hook", Type: notify.TypeWebhook, URLEnv: "H", QueueSize: 5, MaxAttempts: 1,
			Timeout: baldur.Duration(time.Hour)}}},
		env{"H": hook.srv.URL})
	_, err := p.Notify(context.Background(), notify.Notification{Priority: notify.PriorityHigh, Source: "s", Key: "first", Title: "t"})
	require.NoError(t, err)
	<-hook.entered // the worker is inside the hanging send
	notifyAll(t, p, "k", 1000)
	st := p.Channels()[0]
	assert.True(t, st.Sending, "the worker is still stuck in the send")
	assert.False(t, st.BreakerOpen)
	assert.LessOrEqual(t, st.QueueDepth, 5, "queue bounded")
	assert.GreaterOrEqual(t, st.Dropped, uint64(1000-5), "every notification beyond the queue's 5 is a counted drop")
}

func TestQueueFullOfCriticalRefuses(t *testing.T) {
	t.Parallel()
	hook := newSink(t)
	hook.block()
	p, _, _ := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true},
		Channels: []notify.ChannelConfig{{Name: "hook", Type: notify.TypeWebhook, URLEnv: "H", QueueSize: 2}}}, env{"H": hook.srv.URL})
	ctx := context.Background()
	crit := func(k string) (notify.Result, error) {
		return p.Notify(ctx, notify.Notification{Priority: notify.PriorityCritical, Source: "s", Key: k, Title: k})
	}
	_, err := crit("a")
	require.NoError(t, err)
	<-hook.entered
	_, _ = crit("b")
	_, _ = crit("c")
	r, err := crit("d")
	require.ErrorIs(t, err, notify.ErrRefused)
	assert.Equal(t, notify.SuppressRefused, r.Suppressed)
	assert.EqualValues(t, 1, p.Channels()[0].Refused)
}

// 429 with Retry-After: the worker waits that long on the clock before
// it retries, and the message goes out then.
func TestRetryAfterHonored(t *testing.T) {
	t.Parallel()
	pd := newSink(t)
	pd.set(http.StatusTooManyRequests, http.Header{"Retry-After": {"120"}})
	p, clk, _ := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true},
		Channels: []notify.ChannelConfig{{Name: "pd", Type: notify.TypePagerDuty, URLEnv: "U", RoutingKeyEnv: "K", RetryDelay: baldur.Duration(time.Second)}}},
		env{"U": pd.srv.URL, "K": "key"})
	r, err := p.Notify(context.Background(), notify.Notification{Priority: notify.PriorityCritical, Source: "s", Title: "page"})
	require.NoError(t, err)
	require.True(t, r.Delivered)
	<-pd.entered
	require.Eventually(t, func() bool { return clk.Pending() > 0 && p.Channels()[0].Failed == 1 }, 10*time.Second, time.Millisecond)
	pd.set(http.StatusAccepted, nil)
	clk.Advance(119 * time.Second)
	select {
	case <-pd.entered:
		t.Fatal("retried before Retry-After")
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(time.Second)
	b := pd.next(t)
	assert.Equal(t, "trigger", b["event_action"])
}

// Webhook URLs and routing keys never appear in logs, errors, statuses
// or metrics, whatever fails.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	hook := newSink(t)
	hook.set(http.StatusInternalServerError, nil)
	secretPath := "/services/T000/B000/XXXXSECRETXXXX"
	routingKey := "R0UT1NGKEY-SECRET-1234567890"
	p, _, logs := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true},
		Channels: []notify.ChannelConfig{
			{Name: "log", Type: notify.TypeLog},
			{Name: "slack", Type: notify.TypeSlack, URLEnv: "SLACK_URL", MaxAttempts: 1},
			{Name: "dead", Type: notify.TypeWebhook, URLEnv: "DEAD_URL", MaxAttempts: 1},
			{Name: "pd", Type: notify.TypePagerDuty, URLEnv: "PD_URL", RoutingKeyEnv: "PD_KEY", MaxAttempts: 1},
		}}, env{"SLACK_URL": hook.srv.URL + secretPath, "DEAD_URL": "http://127.0.0.1:1" + secretPath + "?token=" + routingKey,
		"PD_URL": hook.srv.URL + secretPath, "PD_KEY": routingKey})
	ctx := context.Background()
	for i := range 5 {
		_, err := p.Notify(ctx, notify.Notification{Priority: notify.PriorityCritical, Source: "s", Key: "k" + strconv.Itoa(i), Title: "t"})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		for _, c := range p.Channels() {
			if c.Type != notify.TypeLog && c.Failed == 0 {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond)
	var text strings.Builder
	text.WriteString(logs.String())
	for _, c := range p.Channels() {
		text.WriteString(c.LastError + "\n")
	}
	reg := promRegistry(t, p)
	text.WriteString(reg)
	out := text.String()
	for _, secret := range []string{secretPath, "XXXXSECRETXXXX", routingKey} {
		assert.NotContains(t, out, secret)
	}
	assert.Contains(t, out, "status 500", "errors still say what failed")
	_, err := notify.New(notify.Config{Channels: []notify.ChannelConfig{{Name: "a", Type: notify.TypeSlack, URLEnv: "SLACK_URL"}},
		LookupEnv: func(string) (string, bool) { return "", false }})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SLACK_URL", "the variable's name is named, its value never")
}

func TestSlackAndWebhookPayloads(t *testing.T) {
	t.Parallel()
	slack, hook := newSink(t), newSink(t)
	p, _, _ := build(t, notify.Config{NoGrouping: true, Rate: notify.Rate{Unlimited: true},
		Channels: []notify.ChannelConfig{{Name: "slack", Type: notify.TypeSlack, URLEnv: "S"}, {Name: "hook", Type: notify.TypeWebhook, URLEnv: "W"}}},
		env{"S": slack.srv.URL + "/s", "W": hook.srv.URL + "/w"})
	r, err := p.Notify(context.Background(), notify.Notification{Priority: notify.PriorityHigh, Source: "canary", Title: "rollout stalled", Body: "stage 2"})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"slack", "hook"}, r.Channels)
	assert.Equal(t, "[HIGH] canary: rollout stalled\nstage 2", slack.next(t)["text"])
	b := hook.next(t)
	assert.Equal(t, "HIGH", b["priority"])
	assert.Equal(t, "canary", b["source"])
	assert.Len(t, b["dedup_key"], 32)
}

func TestTestSend(t *testing.T) {
	t.Parallel()
	hook := newSink(t)
	p, _, _ := build(t, notify.Config{Channels: []notify.ChannelConfig{{Name: "hook", Type: notify.TypeWebhook, URLEnv: "W"}}}, env{"W": hook.srv.URL})
	r, err := p.TestSend(context.Background(), "hook", "alice", "checking the wiring")
	require.NoError(t, err)
	assert.True(t, r.Delivered)
	b := hook.next(t)
	assert.Equal(t, true, b["test"])
	_, err = p.TestSend(context.Background(), "nope", "alice", "x")
	assert.Error(t, err)
}
