package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// shared is the package's server for tests that do not pause, kill or
// restart it; they use keys named after the test.
var shared = redistest.NewShared(redistest.Options{})

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{}) // dial failures are what the fault tests cause
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

// newBackend builds a Backend on c for t with cfg. New's start-up ping and
// script preload each have ControlTimeout (250 ms by default), which a
// loaded 2-core machine under -race can miss: a test's fixture is not what
// it tests, so an unavailable Redis is retried for up to 10 s (tests of
// New itself call it directly).
func newBackend(t *testing.T, c redis.UniversalClient, cfg Config) *Backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		b, err := New(ctx, c, cfg)
		if err == nil || !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			require.NoError(t, err)
			return b
		}
		t.Logf("new backend: %v; retrying", err)
	}
}

func newLogger() (*slog.Logger, *logtest.Buffer) {
	buf := &logtest.Buffer{}
	return slog.New(slog.NewTextHandler(buf, nil)), buf
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func blastConfigWithBadRatio() blast.BreakerConfig { return blast.BreakerConfig{FailureRatio: 2} }

var runs atomic.Int64

// prefix returns a key prefix unique to this run of t, so tests sharing a
// server (and -count=N runs) never see each other's keys.
func prefix(t *testing.T) string {
	return fmt.Sprintf("%s#%d:", t.Name(), runs.Add(1))
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}
