package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/notify"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type env map[string]string

func (e env) lookup(k string) (string, bool) { v, ok := e[k]; return v, ok }

// build returns a pipeline on a fake clock, logging to the returned buffer
// unless cfg has a Logger.
func build(t testing.TB, cfg notify.Config, vars env) (*notify.Pipeline, *clock.Fake, *logtest.Buffer) {
	t.Helper()
	clk := clock.NewFake(t0)
	logs := &logtest.Buffer{}
	if cfg.Clock == nil {
		cfg.Clock = clk
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.LookupEnv = vars.lookup
	p, err := notify.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p, clk, logs
}

// sink is an HTTP endpoint on 127.0.0.1 that records what it is sent and
// answers status (200 unless set).
type sink struct {
	srv    *httptest.Server
	bodies chan map[string]any
	paths  chan string

	mu      sync.Mutex
	status  int
	header  http.Header
	hang    chan struct{} // while non-nil and open, requests block
	entered chan struct{}
}

func newSink(t testing.TB) *sink {
	t.Helper()
	s := &sink{bodies: make(chan map[string]any, 4096), paths: make(chan string, 4096), status: 200, entered: make(chan struct{}, 4096)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	t.Cleanup(func() {
		s.mu.Lock()
		if s.hang != nil {
			select {
			case <-s.hang:
			default:
				close(s.hang)
			}
		}
		s.mu.Unlock()
		s.srv.Close()
	})
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	s.entered <- struct{}{}
	s.mu.Lock()
	hang, status, header := s.hang, s.status, s.header
	s.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	if status < 300 {
		s.bodies <- m
		s.paths <- r.URL.Path
	}
}

func (s *sink) set(status int, header http.Header) {
	s.mu.Lock()
	s.status, s.header = status, header
	s.mu.Unlock()
}

func (s *sink) block() {
	s.mu.Lock()
	s.hang = make(chan struct{})
	s.mu.Unlock()
}

// next returns the next body received, failing after a generous bound.
func (s *sink) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case b := <-s.bodies:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the sink")
		return nil
	}
}

func prio(p notify.Priority) *notify.Priority { return &p }

// promRegistry gathers p's metrics as text.
func promRegistry(t *testing.T, p *notify.Pipeline) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(p))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	return fmt.Sprint(mfs)
}
