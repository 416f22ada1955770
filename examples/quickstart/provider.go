package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/middleware"
	"github.com/baldur-go/baldur/registry"
)

// provider is the payment provider the shop charges in serve mode: a
// server of its own on a loopback port, which answers 502 while failing
// is set.
type provider struct {
	failing atomic.Bool
	charged atomic.Int64
	srv     *http.Server
	url     string
}

func startProvider() (*provider, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("payment provider listener: %w", err)
	}
	p := &provider{url: "http://" + ln.Addr().String() + "/charges"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /charges", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
		if p.failing.Load() {
			http.Error(w, "upstream acquirer unavailable", http.StatusBadGateway)
			return
		}
		p.charged.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"charged"}`)
	})
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *provider) close() { _ = p.srv.Close() }

// chargeOperation is the operation of the shop's calls to the provider,
// by which the registry resolves their policy (the default one).
const chargeOperation = "POST payments/charges"

// chargeClient sends the shop's charges through the toolkit's transport:
// guarded by the operation's policy, and captured by the DLQ when they
// finally fail.
func chargeClient(reg *registry.Registry, capture middleware.DLQ) *http.Client {
	return &http.Client{Timeout: 2 * time.Second, Transport: middleware.NewTransport(reg, middleware.TransportConfig{
		Operation: func(*http.Request) string { return chargeOperation },
		Tier:      func(*http.Request) baldur.Tier { return baldur.TierCritical },
		DLQ:       capture,
	})}
}

// payHandler is POST /api/pay in serve mode: the order is taken, and the
// card is charged at the provider. A failed charge does not fail the
// order: the DLQ keeps it (card number masked) for a replay.
func payHandler(client *http.Client, providerURL string) http.Handler {
	var orders atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := orders.Add(1)
		body := `{"order":` + strconv.FormatInt(n, 10) + `,"tenant":` + strconv.Quote(r.Header.Get("X-Tenant")) +
			`,"amount_cents":1299,"card_number":"4111111111111111"}`
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, providerURL, bytes.NewReader([]byte(body)))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		charged := "charged"
		if resp, err := client.Do(req); err != nil {
			charged = "charge deferred"
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				charged = "charge deferred"
			}
		}
		_, _ = io.WriteString(w, "order "+strconv.FormatInt(n, 10)+" taken, "+charged+"\n")
	})
}
