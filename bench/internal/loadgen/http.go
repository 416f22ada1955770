package loadgen

import (
	"context"
	"io"
	"net/http"
)

// HTTPGet returns a Func that GETs url with client, reads the body to the
// end and classifies the answer: 200 is OK, 429 and 503 are Rejected (a
// gate said no), anything else or a transport error is Failed.
func HTTPGet(client *http.Client, url string) Func {
	return func(ctx context.Context) Status {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return Failed
		}
		resp, err := client.Do(req)
		if err != nil {
			return Failed
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			return OK
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			return Rejected
		}
		return Failed
	}
}
