// Command grpcserver shows the gRPC interceptors end to end on loopback: a
// server guarded by a policy that admits three calls, and a client whose
// fourth call is rejected with a RESOURCE_EXHAUSTED status carrying
// google.rpc.RetryInfo, google.rpc.ErrorInfo and the grpc-retry-pushback-ms
// trailer. It exits by itself.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/interceptor"
)

// quota is a stand-in for the throttle: it admits the first n calls and
// rejects the rest with a Retry-After of one second.
type quota struct{ left atomic.Int64 }

func (*quota) Stage() baldur.Stage { return baldur.StageThrottle }

func (q *quota) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	if q.left.Add(-1) < 0 {
		return baldur.Permit{}, baldur.Reject(baldur.ReasonThrottled, time.Second)
	}
	return baldur.Permit{}, nil
}

func main() {
	if err := run(); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run() error {
	q := &quota{}
	q.left.Store(3)
	policy, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "health", Gates: []baldur.Gate{q}})
	if err != nil {
		return err
	}
	resolver := baldur.Static(policy)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(interceptor.UnaryServerInterceptor(resolver, interceptor.WithService("demo"))),
		grpc.ChainStreamInterceptor(interceptor.StreamServerInterceptor(resolver, interceptor.WithService("demo"))),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	fmt.Println("serving on", lis.Addr())

	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	client := healthpb.NewHealthClient(cc)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 1; i <= 4; i++ {
		var trailer metadata.MD
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
		if err == nil {
			fmt.Printf("call %d: %s\n", i, resp.GetStatus())
			continue
		}
		st := status.Convert(err)
		fmt.Printf("call %d: %s: %s\n", i, st.Code(), st.Message())
		for _, d := range st.Details() {
			switch d := d.(type) {
			case *errdetails.RetryInfo:
				fmt.Println("  RetryInfo: retry after", d.GetRetryDelay().AsDuration())
			case *errdetails.ErrorInfo:
				fmt.Printf("  ErrorInfo: reason=%s domain=%s gate=%s\n", d.GetReason(), d.GetDomain(), d.GetMetadata()["gate"])
			}
		}
		fmt.Println("  trailer", interceptor.PushbackTrailer+":", trailer.Get(interceptor.PushbackTrailer))
		if i != 4 {
			return fmt.Errorf("call %d rejected too early", i)
		}
		return nil
	}
	return fmt.Errorf("the fourth call was not rejected")
}
