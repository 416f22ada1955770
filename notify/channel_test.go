package notify_test

import (
	"context"
	"net/http"
	"slices"
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

// A dead endpoint opens the channel's breaker; the queue stays bounded
// (oldest non-CRITICAL dropped first) and Notify keeps returning at once.
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
	var worst time.Duration
	durations := make([]time.Duration, 0, 1000)
	for i := range 1000 {
		pr := notify.PriorityWarning
		if i%300 == 0 { // 4 CRITICAL, fewer than the queue holds
			pr = notify.PriorityCritical
		}
		start := time.Now()
		r, err := p.Notify(ctx, notify.Notification{Priority: pr, Source: "s", Key: "k" + strconv.Itoa(i), Title: "t"})
		d := time.Since(start)
		durations = append(durations, d)
		worst = max(worst, d)
		require.NoError(t, err)
		require.True(t, r.Delivered, "queued while the breaker is open")
	}
	// Against a deadline rather than a stopwatch: Notify returns before a
	// 1 ms deadline passes (19 of 20 here, leaving room for a GC pause of
	// a loaded machine under -race).
	met := 0
	for i := range 20 {
		dl, cancel := context.WithTimeout(ctx, time.Millisecond)
		r, err := p.Notify(dl, notify.Notification{Priority: notify.PriorityWarning, Source: "s", Key: "d" + strconv.Itoa(i), Title: "t"})
		if dl.Err() == nil {
			met++
		}
		cancel()
		require.NoError(t, err)
		require.True(t, r.Delivered)
	}
	assert.GreaterOrEqual(t, met, 19, "Notify returned before its 1 ms deadline")
	slices.Sort(durations)
	t.Logf("Notify with the channel down: median %v, p99 %v, worst %v", durations[500], durations[990], worst)
	assert.Less(t, durations[500], time.Millisecond, "median Notify with a dead channel")
	st := p.Channels()[0]
	assert.LessOrEqual(t, st.QueueDepth, 5, "queue bounded")
	assert.Positive(t, st.Dropped, "oldest non-CRITICAL dropped")
	assert.True(t, st.BreakerOpen)
	assert.NotContains(t, st.LastError, hook.srv.URL)
	assert.Positive(t, clk.Pending(), "the worker waits on the clock, it does not spin")
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
