package redisstore

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// shared is the package's server for tests that do not pause, kill or
// restart it; they use keys named after the test.
var shared = redistest.NewShared(redistest.Options{})

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// newBackend builds a Backend on c for t with cfg.
func newBackend(t *testing.T, c redis.UniversalClient, cfg Config) *Backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := New(ctx, c, cfg)
	require.NoError(t, err)
	return b
}

// logBuffer is a slog handler target that tests read.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, nil)), buf
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func blastConfigWithBadRatio() blast.BreakerConfig { return blast.BreakerConfig{FailureRatio: 2} }
