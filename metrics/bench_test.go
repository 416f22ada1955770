package metrics_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/metrics"
	"github.com/baldur-go/baldur/registry"
)

// BenchmarkRejectPath compares what a rejection costs with the pull
// collector registered (the policy's own striped counter is all the hot
// path touches) against the push design it replaces, where the adapter
// also increments a labelled prometheus.CounterVec per rejection.
func BenchmarkRejectPath(b *testing.B) {
	// A fake clock that never moves: the drained bucket never refills.
	reg := registry.New(registry.WithClock(clock.NewFake(epoch)))
	cfg, err := registry.ReadConfigFile("../examples/quickstart/baldur.json")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Governance = nil
	for i := range cfg.Policies {
		cfg.Policies[i].Governance = false
	}
	if err := reg.Load(cfg); err != nil {
		b.Fatal(err)
	}
	p, _ := reg.PolicyByName("api")
	pr := prometheus.NewRegistry()
	pr.MustRegister(metrics.NewCollector(reg))
	c := baldur.Call{Operation: "GET /api/recs", Key: "hot", Now: epoch}
	for range 200 { // drain the key's bucket so that every call below rejects
		if t, err := p.Admit(context.Background(), c); err == nil {
			t.Release(baldur.Outcome{Result: baldur.Success})
		}
	}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "push_rejections_total"}, []string{"policy", "gate", "reason"})

	b.Run("impl=pull", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := p.Admit(context.Background(), c); err == nil {
					b.Fatal("admitted")
				}
			}
		})
	})
	b.Run("impl=push-countervec", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, err := p.Admit(context.Background(), c)
				rej, ok := err.(*baldur.Rejection)
				if !ok {
					b.Fatal("admitted")
				}
				vec.WithLabelValues(p.Name(), rej.Gate(), rej.Reason().String()).Inc()
			}
		})
	})
}

// BenchmarkScrape measures one Gather of the collector over the quickstart
// configuration, with and without 10,000 keys held by its throttle, breaker
// and share cap (the scrape walks them; the series stay the same).
func BenchmarkScrape(b *testing.B) {
	for _, keys := range []int{0, 10000} {
		b.Run("keys="+strconv.Itoa(keys), func(b *testing.B) {
			reg := registry.New()
			if err := reg.LoadFile("../examples/quickstart/baldur.json"); err != nil {
				b.Fatal(err)
			}
			for i := range keys {
				k := "k" + strconv.Itoa(i)
				for _, name := range []string{"api", "upstream", "reports"} {
					p, _ := reg.PolicyByName(name)
					if t, err := p.Admit(context.Background(), baldur.Call{Operation: "GET /api/x" + k, Key: k}); err == nil {
						t.Release(baldur.Outcome{Result: baldur.Success})
					}
				}
			}
			pr := prometheus.NewRegistry()
			pr.MustRegister(metrics.NewCollector(reg))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := pr.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
