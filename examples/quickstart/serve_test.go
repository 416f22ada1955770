package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Serve mode prints its URLs and keys, serves the guarded service, the
// admin API and the console, and returns nil once interrupted.
func TestServeModeStaysUpUntilInterrupted(t *testing.T) {
	*serviceAddr, *adminAddr = "127.0.0.1:0", "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, pw); _ = pw.Close() }()

	urls := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && (f[0] == "console" || f[0] == "service") {
			urls[f[0]] = f[1]
		}
		if strings.HasPrefix(sc.Text(), "A built-in load runs") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	require.Contains(t, urls, "console")
	require.Contains(t, urls, "service")

	get := func(url, key string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		if key != "" {
			req.Header.Set("X-Baldur-Admin-Key", key)
		}
		req.Header.Set("X-Tenant", "test")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get(urls["console"], "")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "baldur console")
	code, body = get(strings.TrimSuffix(urls["console"], "/console")+"/status", serveViewerKey)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"service":"shop"`)
	code, _ = get(urls["service"]+"/api/items/1", "")
	assert.Equal(t, http.StatusOK, code)

	// The operator services are wired: each endpoint the console reads
	// answers rows, not 404 "not configured". They start right after the
	// banner, so the first read may come before them.
	ctl := strings.TrimSuffix(urls["console"], "/console")
	rows := func(path, list string) []any {
		code, body := get(ctl+path, serveViewerKey)
		if code != http.StatusOK {
			return nil
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &m))
		l, _ := m[list].([]any)
		return l
	}
	var res map[string]any
	require.Eventually(t, func() bool {
		for _, r := range rows("/notifications/results", "items") { // newest first
			if r.(map[string]any)["title"] == "quickstart serving" {
				res = r.(map[string]any)
			}
		}
		return res != nil
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, true, res["delivered"])
	assert.Equal(t, "log", res["channels"])
	assert.Equal(t, "log", rows("/notifications/channels", "items")[0].(map[string]any)["name"])
	var checks []string
	for _, c := range rows("/watchdog/status", "checks") {
		checks = append(checks, c.(map[string]any)["name"].(string))
	}
	assert.Equal(t, []string{"lock_renewal", "breaker_force_expired", "leaked_permits", "emergency_stuck", "dlq_stuck_replay",
		"idempotency_expired_claims", "chaos_ttl", "canary_interlock", "canary_stalled", "canary_lock"}, checks)

	// The demo's rollout runs on half of the tenants; its experiment waits
	// for the rollout to be over.
	ro := rows("/canary/rollouts", "items")
	require.Len(t, ro, 1)
	assert.Equal(t, "canary", ro[0].(map[string]any)["state"])
	assert.Equal(t, 0.5, ro[0].(map[string]any)["share"])
	ex := rows("/chaos/experiments", "items")
	require.Len(t, ex, 1)
	assert.Equal(t, "recs-latency", ex[0].(map[string]any)["id"])
	assert.Equal(t, "scheduled", ex[0].(map[string]any)["state"])

	// An operator stops the charges with a kill switch on their operation:
	// orders are still taken, and their charges wait in the DLQ, card
	// numbers masked. The checkout runs once per Idempotency-Key: the
	// second order is the first one's answer, replayed.
	send := func(method, url, key string, header map[string]string, body string) (int, http.Header, string) {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		require.NoError(t, err)
		if key != "" {
			req.Header.Set("X-Baldur-Admin-Key", key)
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	const charges = `{"scope":"operation","pattern":"POST payments/charges","reason":"provider double-charging"}`
	code, _, body = send(http.MethodPost, ctl+"/killswitch", serveOperatorKey, nil, charges)
	require.Equal(t, http.StatusOK, code, body)
	order := map[string]string{"X-Tenant": "test", "Idempotency-Key": `"order-1"`}
	code, hdr, first := send(http.MethodPost, urls["service"]+"/api/pay", "", order, "")
	require.Equal(t, http.StatusOK, code, first)
	assert.Contains(t, first, "charge deferred")
	assert.Empty(t, hdr.Get("Idempotent-Replayed"))
	code, hdr, second := send(http.MethodPost, urls["service"]+"/api/pay", "", order, "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "true", hdr.Get("Idempotent-Replayed"))
	assert.Equal(t, first, second)

	var e map[string]any
	require.Eventually(t, func() bool {
		for _, x := range rows("/dlq/entries?domain=payments", "items") {
			if x.(map[string]any)["failure_type"] == "kill_switch" {
				e = x.(map[string]any)
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, "POST payments/charges", e["operation"])
	code, _, body = send(http.MethodGet, ctl+"/dlq/entries/"+e["id"].(string), serveOperatorKey, nil, "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `\"card_number\":\"[MASKED]\"`)
	assert.NotContains(t, body, "4111111111111111")
	assert.NotEmpty(t, rows("/dlq/groups", "items"))

	// Switch lifted, the charge replays against the provider.
	code, _, body = send(http.MethodDelete, ctl+"/killswitch", serveOperatorKey, nil, `{"scope":"operation","pattern":"POST payments/charges"}`)
	require.Equal(t, http.StatusOK, code, body)
	code, _, body = send(http.MethodPost, ctl+"/dlq/replay", serveOperatorKey, nil, `{"ids":["`+e["id"].(string)+`"],"reason":"switch lifted"}`)
	require.Equal(t, http.StatusOK, code, body)
	var replayed map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &replayed))
	assert.Equal(t, float64(1), replayed["resolved"], body)

	cancel()
	require.NoError(t, <-done)
}
