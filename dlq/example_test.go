package dlq_test

import (
	"context"
	"fmt"

	"github.com/baldur-go/baldur/dlq"
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
