package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServerStartsOnUnixSocketOnly(t *testing.T) {
	NoLeaks(t)
	s := Start(t, Options{})
	assert.Less(t, len(s.Socket()), 100, "unix socket paths are limited to 108 bytes")
	assert.Equal(t, "PONG", s.Do(t, "PING"))
	cfg := s.Do(t, "CONFIG", "GET", "port").(map[any]any)
	assert.Equal(t, "0", cfg["port"], "no TCP listener, so no port to race for")
	pol := s.Do(t, "CONFIG", "GET", "maxmemory-policy").(map[any]any)
	assert.Equal(t, "noeviction", pol["maxmemory-policy"])
}

func TestServerPauseResume(t *testing.T) {
	NoLeaks(t)
	s := Start(t, Options{})
	c := s.Client(t, nil)
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx).Err())
	s.Pause(t)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	require.Error(t, c.Ping(short).Err(), "a paused server does not answer")
	s.Resume(t)
	require.NoError(t, c.Ping(ctx).Err())
}

func TestServerRestartKeepsDataOnlyWithAOF(t *testing.T) {
	NoLeaks(t)
	ctx := context.Background()
	for _, aof := range []bool{false, true} {
		s := Start(t, Options{AOF: aof})
		s.Do(t, "SET", "k", "v")
		s.Kill(t)
		s.Restart(t)
		c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.Socket()})
		v, err := c.Get(ctx, "k").Result()
		c.Close()
		if aof {
			require.NoError(t, err)
			assert.Equal(t, "v", v)
		} else {
			assert.ErrorIs(t, err, redis.Nil, "without AOF a SIGKILL loses everything")
		}
	}
}

func TestServerCleanupKillsProcessGroup(t *testing.T) {
	NoLeaks(t)
	Binary(t)
	var pid int
	var dir string
	t.Run("inner", func(t *testing.T) {
		s := Start(t, Options{})
		s.Pause(t) // cleanup must also end a stopped server
		s.mu.Lock()
		pid = s.cmd.Process.Pid
		s.mu.Unlock()
		dir = s.Dir()
	})
	_, err := os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "the directory is removed")
	out, _ := exec.Command("ps", "-o", "pid=", "-g", strconv.Itoa(pid)).Output()
	assert.Empty(t, strings.TrimSpace(string(out)), "no process of the group is left")
}

// recorder stands in for a test to see whether Binary skips or fails.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	if r.skipped == "" && r.failed == "" {
		r.skipped = fmt.Sprint(args...)
	}
}
func (r *recorder) Fatal(args ...any) {
	if r.skipped == "" && r.failed == "" {
		r.failed = fmt.Sprint(args...)
	}
}

func TestMissingBinarySkipsOrFails(t *testing.T) {
	t.Setenv("REDIS_SERVER", "no-such-redis-server")
	for _, tc := range []struct {
		require, ci string
		fail        bool
	}{
		{"", "", false},
		{"1", "", true},
		{"", "true", true},
	} {
		t.Setenv("BALDUR_REQUIRE_REDIS", tc.require)
		t.Setenv("CI", tc.ci)
		r := &recorder{}
		Binary(r)
		msg := r.skipped
		if tc.fail {
			msg = r.failed
			assert.Empty(t, r.skipped)
		} else {
			assert.Empty(t, r.failed)
		}
		assert.Contains(t, msg, "apt-get install -y redis-server", "%+v", tc)
	}
}
