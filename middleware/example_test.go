package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/middleware"
	"github.com/baldur-go/baldur/registry"
)

func ExampleNew() {
	reg := registry.New()
	cfg, err := registry.ParseConfig(strings.NewReader(`{
		"bulkheads": {"api": {"max_concurrent": 1}},
		"policies": [{"name": "api", "operations": ["GET /items/{id}"], "bulkhead": "api"}]
	}`))
	if err == nil {
		err = reg.Load(cfg)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	trusted, _ := middleware.ParseTrustedProxies("10.0.0.0/8")
	mw := middleware.New(reg,
		middleware.WithTrustedProxies(trusted),
		middleware.WithTierRules(middleware.TierRule{Method: "POST", Path: "/pay", Tier: baldur.TierCritical}),
	)

	mux := http.NewServeMux()
	var inner *httptest.ResponseRecorder
	mux.Handle("GET /items/{id}", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// While this request holds the only permit, a second one is rejected.
		inner = httptest.NewRecorder()
		mux.ServeHTTP(inner, httptest.NewRequest("GET", "/items/8", nil))
		fmt.Fprintf(w, "item %s\n", r.PathValue("id"))
	})))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/items/7", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	fmt.Println(inner.Code, inner.Header().Get("X-Baldur-Reason"), inner.Header().Get("Retry-After"))
	fmt.Print(inner.Body.String())
	// Output:
	// 200 item 7
	// 503 bulkhead_full 1
	// {"code":"bulkhead_full","gate":"bulkhead","retry_after_s":1}
}
