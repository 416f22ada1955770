package middleware

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/baldur-go/baldur"
)

// roundTripOnPool sends req from a worker of the pool that admitted it
// (tk.Runs). The request is sent with a context of its own, derived from
// the caller's: the pool's timeout (or the caller) ends it while the round
// trip runs, and only the returned cancel, called when the body is done,
// ends it afterwards, so the body outlives the worker's part. On error
// the context is already ended and cancel is nil.
func (t *transport) roundTripOnPool(req *http.Request, tk *baldur.Ticket) (*http.Response, context.CancelCauseFunc, error) {
	rctx, cancel := context.WithCancelCause(req.Context())
	handed := false
	defer func() {
		if !handed { // an error, or a panic on its way up
			cancel(nil)
		}
	}()
	sent := req.WithContext(rctx)
	h := new(handoff)
	err := tk.Run(req.Context(), func(wctx context.Context) error {
		stop := context.AfterFunc(wctx, func() { cancel(context.Cause(wctx)) })
		resp, err := t.next.RoundTrip(sent)
		stop()
		if err == nil && resp == nil {
			err = errNilResponse
		}
		return h.deliver(resp, err)
	})
	resp := h.take(err)
	if err != nil {
		return nil, nil, err
	}
	if resp.Request == sent {
		resp.Request = req
	}
	handed = true
	return resp, cancel, nil
}

// handoff carries a response from the worker to the caller, who may have
// stopped waiting (the pool's timeout): exactly one side owns the response
// and closes it if it is not to be used.
type handoff struct {
	state atomic.Uint32 // handoffWorking, then delivered or left
	resp  *http.Response
}

const (
	handoffWorking uint32 = iota
	handoffDelivered
	handoffLeft
)

// deliver is the worker's side: it hands resp over, or closes it when the
// caller has already left.
func (h *handoff) deliver(resp *http.Response, err error) error {
	h.resp = resp
	if !h.state.CompareAndSwap(handoffWorking, handoffDelivered) {
		closeResponse(resp)
	}
	return err
}

// take is the caller's side once Run returned runErr: the delivered
// response when Run succeeded; otherwise nil, after closing a response
// that was delivered anyway or telling the worker to close it.
func (h *handoff) take(runErr error) *http.Response {
	if h.state.CompareAndSwap(handoffWorking, handoffLeft) {
		return nil
	}
	if runErr != nil {
		closeResponse(h.resp)
		return nil
	}
	return h.resp
}

func closeResponse(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
}
