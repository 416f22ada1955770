package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/middleware"
)

// BenchmarkServe compares a bare handler with the same handler behind the
// middleware guarding it with the real governance gate (the DESIGN target:
// at most +100 ns and no extra allocation), in the same run.
func BenchmarkServe(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	gov, err := governance.New(governance.Config{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "gov", Gates: []baldur.Gate{gov.Gate()}})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{
		{"impl=bare", ok},
		{"impl=governance", middleware.New(baldur.Static(p))(ok)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "/items/1", nil)
				w := &discard{h: http.Header{}}
				for pb.Next() {
					tc.h.ServeHTTP(w, req)
				}
			})
		})
	}
}
