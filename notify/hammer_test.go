package notify_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/notify"
)

// Everything at once under -race: notifications of few keys and sources,
// resolves, silences, admin reads, metrics and the group windows firing.
func TestHammer(t *testing.T) {
	t.Parallel()
	hook := newSink(t)
	p, clk, _ := build(t, notify.Config{Cooldown: baldur.Duration(time.Second), SendingLease: baldur.Duration(time.Second),
		Rate:     notify.Rate{PerMinute: 50, PerHour: 500},
		Channels: []notify.ChannelConfig{{Name: "log", Type: notify.TypeLog}, {Name: "hook", Type: notify.TypeWebhook, URLEnv: "H", QueueSize: 16}}},
		env{"H": hook.srv.URL})
	go func() { // drain the sink
		for range hook.bodies {
		}
	}()
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				n := notify.Notification{Priority: notify.Priority(i % notify.NumPriorities), Source: "s" + strconv.Itoa(g%3), Key: "k" + strconv.Itoa(i%7), Title: "t"}
				r, err := p.Notify(ctx, n)
				if err != nil {
					assert.ErrorIs(t, err, notify.ErrRefused)
				}
				assert.True(t, r.Priority.Valid())
				switch i % 50 {
				case 0:
					_, _ = p.Resolve(ctx, n)
				case 1:
					s, err := p.AddSilence(ctx, notify.Silence{Matcher: notify.Matcher{Key: "k1"}, Actor: "a", Reason: "r", ExpiresAt: clk.Now().Add(time.Minute)})
					require.NoError(t, err)
					p.DeleteSilence(ctx, s.ID)
				case 2:
					_ = p.Channels()
					_ = p.Recent()
					_ = p.Silences()
					_ = promRegistry(t, p)
				case 3:
					clk.Advance(time.Second)
				}
			}
		}()
	}
	wg.Wait()
	st := p.Stats()
	var total uint64
	for _, row := range st.Results {
		for _, v := range row {
			total += v
		}
	}
	assert.GreaterOrEqual(t, total, uint64(8*300), "every notification counted")
	assert.LessOrEqual(t, len(p.Recent()), notify.RingSize)
}
