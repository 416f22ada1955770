package middleware

import (
	"net/http"

	"github.com/baldur-go/baldur"
)

// DLQ captures the outbound requests that finally failed, for a later
// replay; dlq.CapturePoint implements it. CaptureRequest is called on the
// failure path only: for a rejection (err a *baldur.Rejection; the request
// was not sent and its body not yet closed), a transport error, or a 5xx
// response (status, err nil). It must not block or keep req.
type DLQ interface {
	CaptureRequest(req *http.Request, operation string, tier baldur.Tier, status int, err error)
}

// captureDLQ hands a failed request to the configured DLQ.
func (t *transport) captureDLQ(req *http.Request, op string, status int, err error) {
	tier := baldur.TierStandard
	if t.tier != nil {
		tier = t.tier(req)
	}
	t.dlq.CaptureRequest(req, op, tier, status, err)
}
