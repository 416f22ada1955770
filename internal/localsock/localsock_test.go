package localsock

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func monitor() (*Monitor, *bytes.Buffer, *sync.Mutex) {
	var buf bytes.Buffer
	var mu sync.Mutex
	l := slog.New(slog.NewTextHandler(lockedWriter{&buf, &mu}, nil))
	return &Monitor{Logger: func() *slog.Logger { return l }}, &buf, &mu
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func TestMonitor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		calls string // u: unkeyed, k: keyed
		warns int
	}{
		{"too few to tell", strings.Repeat("u", WarnAfter-1), 0},
		{"only unkeyed", strings.Repeat("u", WarnAfter), 1},
		{"warned once however many", strings.Repeat("u", 10*WarnAfter), 1},
		{"a keyed call first", "k" + strings.Repeat("u", 10*WarnAfter), 0},
		{"a keyed call before the bound", "uuuk" + strings.Repeat("u", 10*WarnAfter), 0},
		{"keyed after the warning", strings.Repeat("u", WarnAfter) + "k", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, buf, mu := monitor()
			for _, c := range tt.calls {
				if c == 'k' {
					m.Keyed()
				} else {
					m.Unkeyed(context.Background(), "no key", slog.String("a", "b"))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, tt.warns, strings.Count(buf.String(), "no key"), buf.String())
		})
	}
}

func TestMonitorAllocatesNothing(t *testing.T) {
	m, _, _ := monitor()
	ctx := context.Background()
	allocs := testing.AllocsPerRun(WarnAfter/2, func() {
		m.Unkeyed(ctx, "no key", slog.String("metadata", "baldur-key"))
	})
	assert.Zero(t, allocs)
	m.Keyed()
	assert.Zero(t, testing.AllocsPerRun(100, func() { m.Unkeyed(ctx, "no key", slog.String("m", "k")); m.Keyed() }))
}

func TestMonitorConcurrentWarnsOnce(t *testing.T) {
	t.Parallel()
	m, buf, mu := monitor()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				m.Unkeyed(context.Background(), "no key", slog.Attr{})
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, strings.Count(buf.String(), "no key"))
	m.Reset()
	assert.False(t, m.done.Load())
	assert.Zero(t, m.unkeyed.Load())
}
