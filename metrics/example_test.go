package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/metrics"
	"github.com/baldur-go/baldur/registry"
)

const exampleConfig = `{
  "throttles": {"per_client": {"rate": 1, "burst": 1}},
  "bulkheads": {"api": {"max_concurrent": 8}},
  "policies": [{"name": "api", "throttle": "per_client", "bulkhead": "api"}],
  "default_policy": "api"
}`

// exampleRegistry loads exampleConfig and rejects one call of "client-1"
// by its rate.
func exampleRegistry() *registry.Registry {
	reg := registry.New()
	cfg, err := registry.ParseConfig(strings.NewReader(exampleConfig))
	if err != nil {
		panic(err)
	}
	if err := reg.Load(cfg); err != nil {
		panic(err)
	}
	p := reg.Policy("GET /items")
	for range 2 {
		t, err := p.Admit(context.Background(), baldur.Call{Operation: "GET /items", Key: "client-1"})
		if err == nil {
			t.Release(baldur.Outcome{Result: baldur.Success})
		}
	}
	return reg
}

func ExampleNewCollector() {
	reg := exampleRegistry()

	pr := prometheus.NewRegistry()
	pr.MustRegister(metrics.NewCollector(reg))

	mfs, err := pr.Gather()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, mf := range mfs {
		if mf.GetName() != "baldur_rejections_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			fmt.Println(strings.Join(labels, " "), m.GetCounter().GetValue())
		}
	}
	// Output:
	// gate=bulkhead policy=api reason=bulkhead_full 0
	// gate=deadline policy=api reason=deadline 0
	// gate=throttle policy=api reason=throttled 1
}

func ExampleHandler() {
	reg := exampleRegistry()

	srv := httptest.NewServer(metrics.Handler(reg))
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "baldur_bulkhead_max_concurrent") ||
			strings.HasPrefix(line, `baldur_rejections_total{gate="throttle"`) {
			fmt.Println(line)
		}
	}
	// Output:
	// baldur_bulkhead_max_concurrent{compartment="api"} 8
	// baldur_rejections_total{gate="throttle",policy="api",reason="throttled"} 1
}
