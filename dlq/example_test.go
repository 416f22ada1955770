package dlq_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/middleware"
)

// A queue on the memory repository: capture a failed job, then replay it.
func ExampleNew() {
	ctx := context.Background()
	repo := dlq.NewMemory(dlq.MemoryConfig{})
	q, err := dlq.New(dlq.Config{
		Repository: repo,
		Domains:    []dlq.Domain{{Name: "mail"}},
		Handler: func(_ context.Context, e dlq.Entry, key string) error {
			fmt.Println("replaying", e.Operation, "with key", key[:4]+"…")
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	id, _ := q.Capture(ctx, dlq.Entry{Domain: "mail", Operation: "send", Payload: []byte(`{"to":"a@example.com","password":"x"}`),
		FailureType: "timeout", Error: "smtp: i/o timeout"})
	_ = q.Close(ctx) // flushes the writer; a service keeps its queue open

	e, _ := repo.Get(ctx, id)
	fmt.Println(e.Status, string(e.Payload))
	e, err = q.Replay(ctx, id)
	fmt.Println(e.Status, err)
	// Output:
	// pending {"password":"[MASKED]","to":"a@example.com"}
	// replaying send with key dlq:…
	// resolved <nil>
}

// The masker on its own: denied fields masked, unmaskable text dropped.
func ExampleNewMasker() {
	m, _ := dlq.NewMasker(dlq.Mask{Deny: []string{"card.number"}, Redact: []string{`\d{3}-\d{2}-\d{4}`}})
	out, ok := m.Apply([]byte(`{"card":{"number":"4111"},"note":"ssn 123-45-6789"}`))
	fmt.Println(string(out), ok)
	_, ok = m.Apply([]byte(`card.number=4111`))
	fmt.Println(ok)
	// Output:
	// {"card":{"number":"[MASKED]"},"note":"ssn [REDACTED]"} true
	// false
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The outbound transport captures the requests that finally failed.
func ExampleQueue_CapturePoint() {
	ctx := context.Background()
	repo := dlq.NewMemory(dlq.MemoryConfig{})
	q, _ := dlq.New(dlq.Config{Repository: repo})
	upstream := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusBadGateway, Body: http.NoBody, Request: r}, nil
	})
	client := &http.Client{Transport: middleware.NewTransport(baldur.ResolverFunc(func(string) *baldur.Policy { return nil }),
		middleware.TransportConfig{Next: upstream, DLQ: q.CapturePoint("payments")})}
	resp, err := client.Post("https://pay.example/charges", "application/json", strings.NewReader(`{"amount":10,"cvv":"123"}`))
	if err == nil {
		_ = resp.Body.Close()
	}
	_ = q.Close(ctx)
	es, _ := repo.List(ctx, dlq.Filter{})
	fmt.Println(es[0].FailureType, es[0].Method, es[0].URL, string(es[0].Payload))
	// Output: http_502 POST https://pay.example/charges {"amount":10,"cvv":"[MASKED]"}
}
