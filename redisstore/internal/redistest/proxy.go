package redistest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy on 127.0.0.1:0 in front of an upstream (a server's
// unix socket). Its faults apply to every connection through it, so give
// each simulated replica its own Proxy to partition one replica while the
// others keep their link:
//
//   - Delay(d): every chunk is forwarded d late, in each direction;
//   - Blackhole(): connections stay open and nothing is forwarded (bytes
//     are held, as a partitioned network holds retransmissions, and flow on
//     after Heal); new connections are accepted and hang too;
//   - Reset(): every open connection is closed with an RST (SO_LINGER 0);
//   - Refuse(): new connections are reset as soon as they are accepted;
//   - Heal(): clears Delay, Blackhole and Refuse.
//
// Proxy is safe for concurrent use.
type Proxy struct {
	network, upstream string
	ln                net.Listener

	delay  atomic.Int64 // ns
	refuse atomic.Bool
	dials  atomic.Int64

	mu     sync.Mutex
	hole   chan struct{} // non-nil while blackholed; closed by Heal
	conns  map[*net.TCPConn]net.Conn
	closed bool
	wg     sync.WaitGroup
}

// NewProxy starts a proxy to upstream (network "unix" or "tcp") and closes
// it, with every connection, when t ends.
func NewProxy(t testing.TB, network, upstream string) *Proxy {
	t.Helper()
	p, err := ListenProxy(network, upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// ListenProxy starts a proxy to upstream; Close stops it.
func ListenProxy(network, upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{network: network, upstream: upstream, ln: ln, conns: map[*net.TCPConn]net.Conn{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted returns how many connections the proxy accepted (a client's
// dials, including refused ones).
func (p *Proxy) Accepted() int64 { return p.dials.Load() }

// Open returns how many connections are open through the proxy.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Delay forwards every chunk d late from now on (0 removes the delay).
func (p *Proxy) Delay(d time.Duration) { p.delay.Store(int64(d)) }

// Blackhole stops forwarding until Heal.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hole == nil {
		p.hole = make(chan struct{})
	}
}

// Refuse resets new connections as they are accepted, until Heal.
func (p *Proxy) Refuse() { p.refuse.Store(true) }

// Heal clears every fault: delay, blackhole and refuse.
func (p *Proxy) Heal() {
	p.delay.Store(0)
	p.refuse.Store(false)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hole != nil {
		close(p.hole)
		p.hole = nil
	}
}

// Reset closes every open connection with an RST; the client sees
// "connection reset by peer". New connections are accepted as usual.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c, up := range p.conns {
		reset(c)
		up.Close()
		delete(p.conns, c)
	}
}

func reset(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

// Close stops the proxy and closes every connection, waiting for its
// goroutines to end.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.ln.Close()
	if p.hole != nil {
		close(p.hole)
		p.hole = nil
	}
	for c, up := range p.conns {
		c.Close()
		up.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.dials.Add(1)
		tc := c.(*net.TCPConn)
		if p.refuse.Load() {
			reset(tc)
			continue
		}
		up, err := net.DialTimeout(p.network, p.upstream, time.Second)
		if err != nil {
			reset(tc)
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			tc.Close()
			up.Close()
			return
		}
		p.conns[tc] = up
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pump(tc, up, tc, up)
		go p.pump(tc, up, up, tc)
	}
}

// pump copies src to dst chunk by chunk, applying the faults in force when
// each chunk arrives. When either side ends, both are closed.
func (p *Proxy) pump(client *net.TCPConn, up net.Conn, src, dst net.Conn) {
	defer p.wg.Done()
	defer p.drop(client, up)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.hold() {
				return
			}
			if d := time.Duration(p.delay.Load()); d > 0 {
				time.Sleep(d)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// hold waits while the proxy is blackholed; false when it closed meanwhile.
func (p *Proxy) hold() bool {
	for {
		p.mu.Lock()
		h, closed := p.hole, p.closed
		p.mu.Unlock()
		if closed {
			return false
		}
		if h == nil {
			return true
		}
		<-h
	}
}

func (p *Proxy) drop(client *net.TCPConn, up net.Conn) {
	p.mu.Lock()
	delete(p.conns, client)
	p.mu.Unlock()
	client.Close()
	up.Close()
}
