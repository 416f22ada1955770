package redisstore

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
	"github.com/stretchr/testify/require"
)

// FuzzParseKillSwitch: any field and record parse without panicking; an
// error comes with the documented fallback; a record the store wrote
// round-trips.
func FuzzParseKillSwitch(f *testing.F) {
	f.Add("all\x1f", `{"v":1,"reason":"r"}`)
	f.Add("service\x1fpay*", `{"v":1,"reason":"r","actor":"a","expires":"2030-01-01T00:00:00.000000001Z"}`)
	f.Add("operation\x1fGET /x", `{"v":2,"reason":"r"}`)
	f.Add("nonsense", `{`)
	f.Add("service\x1f", `{"v":1,"reason":""}`)
	f.Add("all\x1f", `{"v":1,"reason":"r","expires":"not a time"}`)
	f.Fuzz(func(t *testing.T, field, value string) {
		ks, err := ParseKillSwitch(field, value)
		if err != nil {
			require.Contains(t, ks.Reason, "unreadable", "the documented fallback")
			return
		}
		require.NotEmpty(t, ks.Reason)
		rec, err := json.Marshal(ksRecord{V: 1, Reason: ks.Reason, Actor: ks.Actor, Since: ks.Since, Expires: ks.ExpiresAt})
		require.NoError(t, err)
		again, err := ParseKillSwitch(killSwitchField(ks.Scope, ks.Pattern), string(rec))
		require.NoError(t, err)
		require.True(t, again.ExpiresAt.Equal(ks.ExpiresAt) && again.Reason == ks.Reason && again.Scope == ks.Scope && again.Pattern == ks.Pattern)
	})
}

// FuzzParseEmergency: any record parses without panicking; a parsed state
// has valid levels and round-trips through the encoder.
func FuzzParseEmergency(f *testing.F) {
	f.Add(`{"v":1,"level":3,"from":1,"reason":"r","expires":"2030-01-01T00:00:00Z"}`)
	f.Add(`{"v":1,"level":9}`)
	f.Add(`{"v":1,"level":-1}`)
	f.Add(`{"v":1,"level":1e300}`)
	f.Add(`LEVEL_2`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseEmergency(s)
		if err != nil {
			return
		}
		require.True(t, st.Level.Valid() && st.From.Valid())
		rec, err := encodeEmergency(st)
		require.NoError(t, err)
		again, err := ParseEmergency(string(rec))
		require.NoError(t, err)
		require.Equal(t, st.Level, again.Level)
		require.Equal(t, st.From, again.From)
		require.True(t, st.ExpiresAt.Equal(again.ExpiresAt))
	})
}

// FuzzParseBreakGlass: any record parses without panicking.
func FuzzParseBreakGlass(f *testing.F) {
	f.Add(`{"v":1,"on":true,"reason":"r","expires":"2030-01-01T00:00:00Z"}`)
	f.Add(`{"v":1,"on":"yes"}`)
	f.Add(`null`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, s string) {
		bg, err := ParseBreakGlass(s)
		if err != nil {
			require.Equal(t, governance.BreakGlass{}, bg)
		}
	})
}

func TestParseRecordsFallbacks(t *testing.T) {
	t.Parallel()
	ks, err := ParseKillSwitch("service\x1fpay", "{oops")
	require.Error(t, err)
	require.Equal(t, governance.ScopeService, ks.Scope)
	require.Equal(t, "pay", ks.Pattern)
	require.True(t, ks.ExpiresAt.IsZero(), "active until deactivated")
	ks, err = ParseKillSwitch("bogus", `{"v":1,"reason":"r"}`)
	require.Error(t, err)
	require.Greater(t, int(ks.Scope), int(governance.ScopeOperation), "an invalid scope, ignored by the Checker")
	st, err := ParseEmergency(`{"v":1,"level":2,"from":1,"since":"2030-01-01T00:00:00Z"}`)
	require.NoError(t, err)
	require.Equal(t, baldur.EmergencyState{Level: baldur.Level2, From: baldur.Level1, Since: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, st)
}
