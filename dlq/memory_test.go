package dlq_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
	"github.com/baldur-go/baldur/dlq/dlqtest"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	dlqtest.Run(t, dlqtest.Harness{New: func(t *testing.T, lim dlq.Limits, clk baldur.Clock) dlq.Repository {
		return dlq.NewMemory(dlq.MemoryConfig{Limits: lim, Clock: clk})
	}})
}

// TestMemoryListMergesDomainsInCaptureOrder: a list across domains and
// statuses merges their ordered lists; every page equals the oldest-first
// order of all matching entries cut at the limit, and paging with After
// walks them all exactly once.
func TestMemoryListMergesDomainsInCaptureOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	repo := dlq.NewMemory(dlq.MemoryConfig{Limits: dlq.Limits{Capacity: 1000, DomainCapacity: 1000}, Clock: clk})
	var es []dlq.Entry
	for i := range 300 {
		// Capture times out of ID order and shared by pairs, so that the
		// ID breaks ties.
		e := dlqtest.NewEntry(fmt.Sprintf("e%03d", i), fmt.Sprintf("d%d", i%7), t0.Add(-time.Duration((i*37)%150)*time.Second))
		e.Status = dlq.Status(i % 3)
		if i%5 == 0 {
			e.Group = "g"
		}
		es = append(es, e)
	}
	_, err := repo.Add(ctx, es)
	require.NoError(t, err)
	want := func(f dlq.Filter) []string {
		var out []dlq.Entry
		for _, e := range es {
			if (len(f.Statuses) == 0 || slices.Contains(f.Statuses, e.Status)) && (f.Group == "" || e.Group == f.Group) {
				out = append(out, e)
			}
		}
		slices.SortFunc(out, func(a, b dlq.Entry) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		return entryIDs(out)
	}
	for _, f := range []dlq.Filter{
		{Limit: 1000},
		{Statuses: []dlq.Status{dlq.Replaying}, Limit: 1000},
		{Statuses: []dlq.Status{dlq.Pending, dlq.Resolved}, Limit: 1000},
		{Group: "g", Limit: 1000},
	} {
		all := want(f)
		for _, limit := range []int{1, 7, 50, 1000} {
			var got []string
			page := f
			page.Limit = limit
			for {
				es, err := repo.List(ctx, page)
				require.NoError(t, err)
				require.LessOrEqual(t, len(es), limit)
				got = append(got, entryIDs(es)...)
				if len(es) < limit {
					break
				}
				page.After = es[len(es)-1].ID
			}
			assert.Equal(t, all, got, "filter %+v, pages of %d", f, limit)
		}
	}
}

func entryIDs(es []dlq.Entry) []string {
	out := make([]string, len(es))
	for i := range es {
		out[i] = es[i].ID
	}
	return out
}
