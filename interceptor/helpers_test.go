package interceptor

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/baldur-go/baldur"
)

// fakeGate is a small baldur.Gate for tests: it admits (holding a permit)
// unless reject says otherwise, and records calls and outcomes.
type fakeGate struct {
	kind   baldur.Stage
	reject func(n int64, c baldur.Call) error // nil: admit all; n counts Admit calls from 1

	calls    atomic.Int64
	admitted atomic.Int64
	released atomic.Int64
	mu       sync.Mutex
	seen     []baldur.Call
	outcomes []baldur.Outcome
	rel      chan baldur.Outcome // optional: each release is sent here
}

func newGate(kind baldur.Stage) *fakeGate { return &fakeGate{kind: kind} }

func (g *fakeGate) Stage() baldur.Stage { return g.kind }

func (g *fakeGate) Admit(ctx context.Context, c baldur.Call) (baldur.Permit, error) {
	n := g.calls.Add(1)
	g.mu.Lock()
	g.seen = append(g.seen, c)
	g.mu.Unlock()
	if g.reject != nil {
		if err := g.reject(n, c); err != nil {
			return baldur.Permit{}, err
		}
	}
	g.admitted.Add(1)
	return baldur.NewPermit(g, uint64(n)), nil
}

func (g *fakeGate) Release(_ uint64, o baldur.Outcome) {
	g.released.Add(1)
	g.mu.Lock()
	g.outcomes = append(g.outcomes, o)
	g.mu.Unlock()
	if g.rel != nil {
		g.rel <- o
	}
}

func (g *fakeGate) held() int64 { return g.admitted.Load() - g.released.Load() }

func (g *fakeGate) lastCall(t *testing.T) baldur.Call {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	require.NotEmpty(t, g.seen, "gate saw no call")
	return g.seen[len(g.seen)-1]
}

func (g *fakeGate) lastOutcome(t *testing.T) baldur.Outcome {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	require.NotEmpty(t, g.outcomes, "gate saw no release")
	return g.outcomes[len(g.outcomes)-1]
}

func rejectAlways(rej error) func(int64, baldur.Call) error {
	return func(int64, baldur.Call) error { return rej }
}

func policyOf(t testing.TB, gates ...baldur.Gate) *baldur.Policy {
	t.Helper()
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "test", Gates: gates})
	require.NoError(t, err)
	return p
}

// testServer implements the grpc interop TestService for the four shapes.
// Errors are chosen by the request's ResponseStatus.
type testServer struct {
	testpb.UnimplementedTestServiceServer
	onStream func(ctx context.Context) // called once a stream handler runs
	handled  atomic.Int64
}

func echoErr(s *testpb.EchoStatus) error {
	if s == nil || s.Code == 0 {
		return nil
	}
	return status.Error(codes.Code(s.Code), s.Message)
}

func (s *testServer) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	s.handled.Add(1)
	if err := echoErr(in.GetResponseStatus()); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: in.GetPayload()}, nil
}

func (s *testServer) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, st grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	s.handled.Add(1)
	if s.onStream != nil {
		s.onStream(st.Context())
	}
	for _, p := range in.GetResponseParameters() {
		if err := st.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
			return err
		}
	}
	return echoErr(in.GetResponseStatus())
}

func (s *testServer) StreamingInputCall(st grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	s.handled.Add(1)
	var n int32
	for {
		m, err := st.Recv()
		if err == io.EOF {
			return st.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: n})
		}
		if err != nil {
			return err
		}
		n += int32(len(m.GetPayload().GetBody()))
	}
}

func (s *testServer) FullDuplexCall(st grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	s.handled.Add(1)
	for {
		m, err := st.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := echoErr(m.GetResponseStatus()); err != nil {
			return err
		}
		if err := st.Send(&testpb.StreamingOutputCallResponse{Payload: m.GetPayload()}); err != nil {
			return err
		}
	}
}

type network string

const (
	netTCP     network = "tcp"
	netBufconn network = "bufconn"
	netUnix    network = "unix" // a socket file in the test's temporary directory
)

// serve starts srv on the network and returns a client connection made
// with dialOpts; both are closed when the test ends.
func serve(t testing.TB, nw network, srv *grpc.Server, dialOpts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	var lis net.Listener
	target := ""
	dialOpts = append(dialOpts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	switch nw {
	case netTCP:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lis, target = l, l.Addr().String()
	case netUnix:
		path := filepath.Join(t.TempDir(), "grpc.sock")
		l, err := net.Listen("unix", path)
		require.NoError(t, err)
		lis, target = l, "unix://"+path
	case netBufconn:
		bl := bufconn.Listen(1 << 20)
		lis, target = bl, "passthrough:///bufconn"
		dialOpts = append(dialOpts, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return bl.DialContext(ctx)
		}))
	}
	go func() { _ = srv.Serve(lis) }()
	cc, err := grpc.NewClient(target, dialOpts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		cc.Close()
		srv.Stop()
	})
	return cc
}

// waitFor polls cond; used only to observe work finishing in other
// goroutines (grpc's), never to let time pass.
var baldurNow = time.Unix(1_700_000_000, 0)

func insecureCreds() credentials.TransportCredentials { return insecure.NewCredentials() }
