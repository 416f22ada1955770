package baldur_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/baldur-go/baldur"
)

// full is a gate that always rejects, standing in for a full bulkhead.
type full struct{}

func (full) Stage() baldur.Stage { return baldur.StageBulkhead }
func (full) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.Permit{}, baldur.Reject(baldur.ReasonBulkheadFull, time.Second)
}

func ExampleNewPolicy() {
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "checkout", Gates: []baldur.Gate{full{}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	t, err := p.Admit(context.Background(), baldur.Call{Operation: "POST /orders", Tier: baldur.TierCritical})
	if err != nil {
		var rej *baldur.Rejection
		if errors.As(err, &rej) {
			fmt.Println(rej.Gate(), rej.Reason(), rej.HTTPStatus(), rej.RetryAfter())
		}
		fmt.Println(errors.Is(err, baldur.ErrRejected), errors.Is(err, baldur.ErrBulkheadFull))
		return
	}
	defer t.Release(baldur.Outcome{Result: baldur.Success})
	// Output:
	// bulkhead bulkhead_full 503 1s
	// true true
}
