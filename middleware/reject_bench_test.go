package middleware

import (
	"net/http"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
)

// writeRejectionShared is WriteRejection as it was: every response's
// header map gets the interned slices themselves, unchecked.
func writeRejectionShared(w http.ResponseWriter, rej *baldur.Rejection) {
	rd := renderedCache.Get(rej)
	h := w.Header()
	h["Retry-After"] = rd.retryAfter
	h[HeaderGate] = rd.gate
	h[HeaderReason] = rd.reason
	h["Content-Type"] = rd.contentType
	h["Content-Length"] = rd.length
	h["X-Content-Type-Options"] = rd.noSniff
	w.WriteHeader(rej.HTTPStatus())
	_, _ = w.Write(rd.body)
}

// writeRejectionOwned hands each response values it owns: one array of
// six strings per response, sliced with cap 1.
func writeRejectionOwned(w http.ResponseWriter, rej *baldur.Rejection) {
	rd := renderedCache.Get(rej)
	v := &[6]string{rd.want[0], rd.want[1], rd.want[2], rd.want[3], rd.want[4], rd.want[5]}
	h := w.Header()
	h["Retry-After"] = v[0:1:1]
	h[HeaderGate] = v[1:2:2]
	h[HeaderReason] = v[2:3:3]
	h["Content-Type"] = v[3:4:4]
	h["Content-Length"] = v[4:5:5]
	h["X-Content-Type-Options"] = v[5:6:6]
	w.WriteHeader(rej.HTTPStatus())
	_, _ = w.Write(rd.body)
}

type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(int)             {}

// BenchmarkWriteRejection compares, in one run, the three ways of putting a
// rejection's header values into a response: shared interned slices
// (before), the same slices checked for in-place edits (what
// WriteRejection does), and values owned by each response. "reused" keeps
// one header map, as the alloc tests do; "fresh" gives each response a new
// map, as net/http does.
func BenchmarkWriteRejection(b *testing.B) {
	rej := baldur.Reject(baldur.ReasonThrottled, 2*time.Second)
	for _, impl := range []struct {
		name  string
		write func(http.ResponseWriter, *baldur.Rejection)
	}{
		{"shared", writeRejectionShared},
		{"checked", WriteRejection},
		{"owned", writeRejectionOwned},
	} {
		for _, fresh := range []bool{false, true} {
			name := "impl=" + impl.name + "/header=reused"
			if fresh {
				name = "impl=" + impl.name + "/header=fresh"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				w := &benchWriter{h: http.Header{}}
				for b.Loop() {
					if fresh {
						w.h = make(http.Header, 8)
					}
					impl.write(w, rej)
				}
			})
		}
	}
}
