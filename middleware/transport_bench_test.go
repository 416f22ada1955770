package middleware

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur"
)

type trNopGate struct{}

func (trNopGate) Stage() baldur.Stage { return baldur.StageGovernance }
func (trNopGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.Permit{}, nil
}

type trHoldGate struct{}

func (trHoldGate) Stage() baldur.Stage { return baldur.StageBulkhead }
func (g trHoldGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.NewPermit(g, 1), nil
}
func (trHoldGate) Release(uint64, baldur.Outcome) {}

// staticRT answers with one shared response and no body: the baseline for
// the transport's own cost.
type staticRT struct{ resp *http.Response }

func (s staticRT) RoundTrip(*http.Request) (*http.Response, error) { return s.resp, nil }

func TestTransportAllocs(t *testing.T) {
	next := staticRT{&http.Response{StatusCode: 200, Body: http.NoBody}}
	req, _ := http.NewRequest(http.MethodGet, "http://up.example/", nil)
	for _, tc := range []struct {
		name string
		r    baldur.Resolver
	}{
		{"nil policy", baldur.Static(nil)},
		{"admitting gate", trPolicy(t, trNopGate{})},
		{"holding gate, empty body", trPolicy(t, trHoldGate{})},
	} {
		rt := NewTransport(tc.r, TransportConfig{Next: next})
		n := testing.AllocsPerRun(200, func() { _, _ = rt.RoundTrip(req) })
		assert.Zero(t, n, "%s: allocs", tc.name)
	}
}

// BenchmarkTransportOverhead measures the transport alone over a
// RoundTripper that does no I/O.
func BenchmarkTransportOverhead(b *testing.B) {
	next := staticRT{&http.Response{StatusCode: 200, Body: http.NoBody}}
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", next},
		{"nil-policy", NewTransport(baldur.Static(nil), TransportConfig{Next: next})},
		{"admit-gate", NewTransport(trPolicy(b, trNopGate{}), TransportConfig{Next: next})},
		{"hold-gate", NewTransport(trPolicy(b, trHoldGate{}), TransportConfig{Next: next})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest(http.MethodGet, "http://up.example/", nil)
				for pb.Next() {
					_, _ = bc.rt.RoundTrip(req)
				}
			})
		})
	}
}

// BenchmarkTransportLoopback compares full requests to an in-process
// server on 127.0.0.1 through a bare http.Transport and through Transport
// with a permit-holding gate (the body wrapper is then in play).
func BenchmarkTransportLoopback(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	base := &http.Transport{MaxIdleConnsPerHost: 64}
	defer base.CloseIdleConnections()
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", base},
		{"guarded", NewTransport(trPolicy(b, trNopGate{}, trHoldGate{}), TransportConfig{Next: base})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			client := &http.Client{Transport: bc.rt}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(srv.URL)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
