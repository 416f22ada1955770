package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestClosedStopsAtCallBudget(t *testing.T) {
	t.Parallel()
	r := Closed(context.Background(), func(context.Context) Status { return OK }, 4, Limits{Duration: time.Second, MaxCalls: 1000})
	if r.Sent != 1000 || r.OK != 1000 || r.Accepted.N != 1000 {
		t.Fatalf("Closed = %+v, want 1000 sent and OK", r)
	}
}

func TestOpenClassifiesAndBounds(t *testing.T) {
	t.Parallel()
	r := Open(context.Background(), func(context.Context) Status { return OK }, 10000, 64, Limits{Duration: 50 * time.Millisecond, MaxCalls: 100})
	if r.Sent+r.Dropped != 100 || r.OK != r.Sent {
		t.Fatalf("Open = %+v, want 100 arrivals, every sent call OK", r)
	}
	r = Open(context.Background(), func(context.Context) Status { return Rejected }, 10000, 64, Limits{Duration: 50 * time.Millisecond, MaxCalls: 50})
	if r.Rejected != r.Sent || r.OK != 0 {
		t.Fatalf("Open(rejecting) = %+v", r)
	}
}

func TestTimeoutIsClassified(t *testing.T) {
	t.Parallel()
	r := Closed(context.Background(), func(ctx context.Context) Status {
		<-ctx.Done()
		return Failed
	}, 1, Limits{Duration: time.Second, MaxCalls: 2, Timeout: time.Millisecond})
	if r.TimedOut != 2 {
		t.Fatalf("Closed = %+v, want 2 timed out", r)
	}
}

func TestHTTPGetClassifies(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/throttled":
			w.WriteHeader(http.StatusTooManyRequests)
		case "/shed":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	for path, want := range map[string]Status{"/ok": OK, "/throttled": Rejected, "/shed": Rejected, "/boom": Failed} {
		if got := HTTPGet(srv.Client(), srv.URL+path)(context.Background()); got != want {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}
	srv.Close()
	if got := HTTPGet(srv.Client(), srv.URL+"/ok")(context.Background()); got != Failed {
		t.Errorf("closed server: %v, want Failed", got)
	}
}
