// Package redistest starts real redis-server processes for tests and puts
// a fault-injecting TCP proxy in front of them.
//
// A server listens only on a unix socket in a short temporary directory
// (--port 0 disables TCP, so no port can be raced for), without persistence
// and with maxmemory-policy noeviction unless the test asks otherwise. Its
// process runs in its own process group, which cleanup kills.
//
// When no server binary is found the test is skipped, or failed when the
// environment says Redis is required (BALDUR_REQUIRE_REDIS=1 or CI=true), so
// CI can never pass without running the Redis suite. The binary is
// $REDIS_SERVER, else redis-server, else valkey-server on PATH.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baldur-go/baldur/internal/logtest"
)

// InstallHint is the command that installs the server on the machines this
// project runs on (Debian).
const InstallHint = "apt-get install -y redis-server"

// Required reports whether the environment demands a real server: CI sets
// CI=true, and the Makefile's redis-test target sets BALDUR_REQUIRE_REDIS=1.
func Required() bool {
	return os.Getenv("BALDUR_REQUIRE_REDIS") == "1" || os.Getenv("CI") == "true"
}

// Binary returns the path of the server binary, or skips (fails when
// Required) t with the install command.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := findBinary()
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("redistest: %v; install it with `%s`", err, InstallHint)
	if Required() {
		t.Fatal(msg + " (required: BALDUR_REQUIRE_REDIS=1 or CI=true)")
	}
	t.Skip(msg)
	return ""
}

func findBinary() (string, error) {
	if b := os.Getenv("REDIS_SERVER"); b != "" {
		p, err := exec.LookPath(b)
		if err != nil {
			return "", fmt.Errorf("REDIS_SERVER=%s not found", b)
		}
		return p, nil
	}
	for _, b := range []string{"redis-server", "valkey-server"} {
		if p, err := exec.LookPath(b); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no redis-server (or valkey-server) on PATH")
}

// Options change how a server is started. The zero value is the default:
// no persistence, noeviction, no memory limit.
type Options struct {
	// AOF turns on the append-only file with appendfsync always, so a
	// SIGKILL loses nothing that was acknowledged.
	AOF bool
	// MaxMemory is the memory limit ("4mb"); empty means none.
	MaxMemory string
	// Policy is the maxmemory-policy; empty means noeviction.
	Policy string
	// Debug enables the DEBUG command from local connections (DEBUG SLEEP).
	Debug bool
	// Args are appended to the command line.
	Args []string
}

// Server is one redis-server process owned by a test. Its methods fail the
// test they were given on error. Safe for concurrent use.
type Server struct {
	bin  string
	dir  string
	sock string

	mu   sync.Mutex
	opts Options
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	out  *logtest.Buffer
}

// Start starts a server for t and stops it (killing its process group) when
// t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := start(Binary(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redis-server output:\n%s", s.Output())
		}
		s.Close()
	})
	return s
}

func start(bin string, opts Options) (*Server, error) {
	// Unix socket paths are limited to 108 bytes; t.TempDir() can exceed it.
	dir, err := os.MkdirTemp("", "bdr")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, sock: filepath.Join(dir, "r.sock"), opts: opts}
	if err := s.launch(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Socket returns the path of the server's unix socket.
func (s *Server) Socket() string { return s.sock }

// Dir returns the server's working directory (where an AOF lives).
func (s *Server) Dir() string { return s.dir }

// Output returns what the server wrote to stdout and stderr so far.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

func (s *Server) args() []string {
	o := s.opts
	policy := o.Policy
	if policy == "" {
		policy = "noeviction"
	}
	a := []string{
		"--port", "0",
		"--unixsocket", s.sock, "--unixsocketperm", "700",
		"--dir", s.dir,
		"--save", "",
		"--maxmemory-policy", policy,
		"--loglevel", "warning",
		"--daemonize", "no",
	}
	if o.AOF {
		a = append(a, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		a = append(a, "--appendonly", "no")
	}
	if o.MaxMemory != "" {
		a = append(a, "--maxmemory", o.MaxMemory)
	}
	if o.Debug {
		a = append(a, "--enable-debug-command", "local")
	}
	return append(a, o.Args...)
}

// launch starts the process and waits until it answers PING. Called with
// s.mu not held.
func (s *Server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	os.Remove(s.sock)
	cmd := exec.Command(s.bin, s.args()...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.out == nil {
		s.out = &logtest.Buffer{}
	}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := ping(s.sock); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			killGroup(cmd, done)
			return fmt.Errorf("redistest: %s did not answer PING within 5s: %v\n%s", s.bin, err, s.out.String())
		}
		select {
		case <-done:
			return fmt.Errorf("redistest: %s exited at start-up:\n%s", s.bin, s.out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ping sends one inline PING and wants +PONG (a server still loading its
// AOF answers -LOADING).
func ping(sock string) error {
	c, err := net.DialTimeout("unix", sock, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return errors.New(strings.TrimSpace(line))
	}
	return nil
}

func killGroup(cmd *exec.Cmd, done chan struct{}) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT) // a stopped process cannot die of SIGTERM
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

func (s *Server) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		t.Fatalf("redistest: server is not running")
	}
	if err := syscall.Kill(-s.cmd.Process.Pid, sig); err != nil {
		t.Fatalf("redistest: signal %v: %v", sig, err)
	}
}

// Pause stops the server with SIGSTOP: connections stay open and nothing
// answers, like a hung host. Resume undoes it; cleanup resumes it too.
func (s *Server) Pause(t testing.TB) { s.signal(t, syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume(t testing.TB) { s.signal(t, syscall.SIGCONT) }

// Kill kills the server's process group with SIGKILL and waits for it: what
// was not in the AOF is lost.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	killGroup(s.cmd, s.done)
	s.cmd, s.done = nil, nil
}

// Restart kills the server if it runs and starts it again on the same
// socket and directory with the same options, so an AOF written before is
// loaded back. The script cache starts empty.
func (s *Server) Restart(t testing.TB) { s.RestartWith(t, s.options()) }

// RestartWith is Restart with other options (for example AOF turned off to
// lose the data, or on to keep it from now on).
func (s *Server) RestartWith(t testing.TB, opts Options) {
	t.Helper()
	s.Kill(t)
	s.mu.Lock()
	s.opts = opts
	s.mu.Unlock()
	if err := s.launch(); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// Close stops the server (SHUTDOWN NOSAVE, then SIGKILL of its process group)
// and removes its directory. It is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT)
		if c, err := net.DialTimeout("unix", s.sock, 100*time.Millisecond); err == nil {
			c.SetDeadline(time.Now().Add(200 * time.Millisecond))
			c.Write([]byte("SHUTDOWN NOSAVE\r\n"))
			c.Close()
		}
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		killGroup(cmd, done)
	}
	os.RemoveAll(s.dir)
}

// ClientOptions returns the options of a client the stores accept:
// context deadlines enforced, no retries, fail-fast pool.
func (s *Server) ClientOptions() *redis.Options {
	return &redis.Options{
		Network:               "unix",
		Addr:                  s.sock,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialTimeout:           200 * time.Millisecond,
		DialerRetries:         1,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		PoolTimeout:           50 * time.Millisecond,
		PoolSize:              8,
	}
}

// Client returns a client on the server's socket with ClientOptions, after
// applying edit (when not nil), closed when t ends.
func (s *Server) Client(t testing.TB, edit func(*redis.Options)) *redis.Client {
	t.Helper()
	o := s.ClientOptions()
	if edit != nil {
		edit(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// Do runs one command on a fresh connection, for test set-up and faults
// (SCRIPT FLUSH, CONFIG SET, CLIENT KILL, MEMORY USAGE), and fails t on error.
func (s *Server) Do(t testing.TB, args ...any) any {
	t.Helper()
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.sock, MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := c.Do(ctx, args...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatalf("redistest: %v: %v", args, err)
	}
	return v
}
