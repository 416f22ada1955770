package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"

	"github.com/baldur-go/baldur/admin"
	"github.com/baldur-go/baldur/registry"
)

func ExampleNew() {
	reg := registry.New()
	cfg, _ := registry.ParseConfig(strings.NewReader(`{"governance": {}, "policies": []}`))
	if err := reg.Load(cfg); err != nil {
		fmt.Println(err)
		return
	}
	// Attribute actions to the user the authenticating proxy at 10.0.0.5
	// names; the header from anyone else is ignored.
	reg.AdminIdentity.Set(admin.HeaderResolver{})

	srv, err := admin.New(admin.Config{
		Registry:       reg,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")},
		OperatorKey:    "op-key-0123456789abcdef", // from a secret store in real life
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Serve it on its own listener: http.ListenAndServe("127.0.0.1:9090", srv).

	r := httptest.NewRequest("POST", "/emergency/trigger", strings.NewReader(`{"level": 1, "reason": "payments degraded"}`))
	r.RemoteAddr = "10.0.0.5:41000"                  // the proxy
	r.Header.Set("Content-Type", "application/json") // every write is JSON
	r.Header.Set("X-Baldur-Admin-Key", "op-key-0123456789abcdef")
	r.Header.Set("X-Forwarded-Email", "alice@example.com")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	var st struct{ Level, Actor string }
	_ = json.Unmarshal(w.Body.Bytes(), &st)
	fmt.Println(w.Code, st.Level, st.Actor)

	// Break glass is destructive: the server was not started unlocked.
	r = httptest.NewRequest("POST", "/breakglass", strings.NewReader(`{"on": true, "reason": "x"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Baldur-Admin-Key", "op-key-0123456789abcdef")
	w = httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	fmt.Println(w.Code)
	// Output:
	// 200 LEVEL_1 alice@example.com
	// 403
}

func ExampleHeaderResolver() {
	res := admin.HeaderResolver{} // reads X-Forwarded-Email
	h := http.Header{"X-Forwarded-Email": {"alice@example.com"}}

	p, ok := res.Resolve(context.Background(), h, true)
	fmt.Println(p.Username, ok)
	_, ok = res.Resolve(context.Background(), h, false) // not behind a trusted proxy
	fmt.Println(ok)
	// Output:
	// alice@example.com true
	// false
}
