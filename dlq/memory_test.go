package dlq_test

import (
	"testing"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/dlq/dlqtest"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	dlqtest.Run(t, dlqtest.Harness{New: func(t *testing.T, lim dlq.Limits, clk baldur.Clock) dlq.Repository {
		return dlq.NewMemory(dlq.MemoryConfig{Limits: lim, Clock: clk})
	}})
}
