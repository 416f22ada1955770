package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/middleware"
)

// TestRejectionHeaderValuesSurviveInPlaceEdits: an outer middleware that
// writes into a rejection's header values in place (h[k][0] = v instead of
// h.Set) must not change what later rejections say.
func TestRejectionHeaderValuesSurviveInPlaceEdits(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"Retry-After":            "",
		"X-Baldur-Gate":          "throttle",
		"X-Baldur-Reason":        "throttled",
		"Content-Type":           "application/json",
		"Content-Length":         "",
		"X-Content-Type-Options": "nosniff",
	}
	for name := range want {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// A wait of its own, so that no parallel subtest shares the interned rejection.
			secs := 100 + len(name)
			retry := time.Duration(secs) * time.Second
			g := &fakeGate{kind: baldur.StageThrottle, reason: baldur.ReasonThrottled, retry: retry}
			inner := middleware.New(baldur.Static(policyOf(t, g)))(http.NotFoundHandler())
			outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inner.ServeHTTP(w, r)
				if v := w.Header()[name]; len(v) > 0 {
					v[0] = "edited" // an in-place edit, after the fact
				}
			})
			first := httptest.NewRecorder()
			outer.ServeHTTP(first, httptest.NewRequest("GET", "/", nil))
			require.Equal(t, "edited", first.Header().Get(name))
			later := httptest.NewRecorder()
			inner.ServeHTTP(later, httptest.NewRequest("GET", "/", nil))
			require.Equal(t, 429, later.Code)
			got := later.Header().Get(name)
			require.NotEqual(t, "edited", got, "an edit of an earlier response's %s leaked into a later one", name)
			switch {
			case name == "Retry-After":
				require.Equal(t, strconv.Itoa(secs), got)
			case want[name] != "":
				require.Equal(t, want[name], got)
			}
			require.Equal(t, later.Header().Get("Content-Length"), strconv.Itoa(later.Body.Len()))
		})
	}
}
