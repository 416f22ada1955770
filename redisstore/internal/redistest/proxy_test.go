package redistest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// echoServer listens on a unix socket and echoes every line back.
func echoServer(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bdp")
	require.NoError(t, err)
	sock := filepath.Join(dir, "e.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		os.RemoveAll(dir)
	})
	return sock
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, timeout time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	c.SetDeadline(start.Add(timeout))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	require.Equal(t, "ping\n", line)
	return time.Since(start), nil
}

func TestProxyForwards(t *testing.T) {
	NoLeaks(t)
	p, err := ListenProxy("unix", echoServer(t))
	require.NoError(t, err)
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	_, err = roundTrip(t, c, r, time.Second)
	require.NoError(t, err)
	require.EqualValues(t, 1, p.Accepted())
	require.Equal(t, 1, p.Open())
}

func TestProxyDelay(t *testing.T) {
	NoLeaks(t)
	p, err := ListenProxy("unix", echoServer(t))
	require.NoError(t, err)
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	p.Delay(20 * time.Millisecond)
	d, err := roundTrip(t, c, r, time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, d, 40*time.Millisecond, "delay applies in each direction")
	p.Heal()
	d, err = roundTrip(t, c, r, time.Second)
	require.NoError(t, err)
	require.Less(t, d, 20*time.Millisecond)
}

func TestProxyBlackholeHoldsUntilHeal(t *testing.T) {
	NoLeaks(t)
	p, err := ListenProxy("unix", echoServer(t))
	require.NoError(t, err)
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	p.Blackhole()
	_, err = roundTrip(t, c, r, 30*time.Millisecond)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "want a timeout, got %v", err)
	p.Heal()
	c.SetDeadline(time.Now().Add(time.Second))
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ping\n", line, "held bytes flow on after Heal")
}

func TestProxyResetSendsRST(t *testing.T) {
	NoLeaks(t)
	p, err := ListenProxy("unix", echoServer(t))
	require.NoError(t, err)
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	_, err = roundTrip(t, c, r, time.Second)
	require.NoError(t, err)
	p.Reset()
	require.Eventually(t, func() bool { return p.Open() == 0 }, time.Second, time.Millisecond)
	c.SetDeadline(time.Now().Add(time.Second))
	_, err = r.ReadByte()
	require.ErrorIs(t, err, syscall.ECONNRESET)
	// The proxy keeps serving new connections.
	c2, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c2.Close()
	_, err = roundTrip(t, c2, bufio.NewReader(c2), time.Second)
	require.NoError(t, err)
}

func TestProxyRefuse(t *testing.T) {
	NoLeaks(t)
	p, err := ListenProxy("unix", echoServer(t))
	require.NoError(t, err)
	defer p.Close()
	p.Refuse()
	// The reset may reach the client during its dial or at its first read.
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.SetDeadline(time.Now().Add(time.Second))
		_, err = c.Read(make([]byte, 1))
		require.Error(t, err)
		c.Close()
	}
	require.Eventually(t, func() bool { return p.Accepted() == 1 }, time.Second, time.Millisecond)
	p.Heal()
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	_, err = roundTrip(t, c, bufio.NewReader(c), time.Second)
	require.NoError(t, err)
	require.EqualValues(t, 2, p.Accepted())
}
