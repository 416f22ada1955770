package watchdog

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// ping GETs the heartbeat URL: a dead man's switch that pages when the
// pings stop, the one way to notice that the watchdog itself is dead. The
// URL may carry a token, so errors never quote it: a *url.Error is
// unwrapped to its cause.
func (r *Runner) ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.heartbeat, nil)
	if err != nil {
		return errors.New("heartbeat: cannot build the request")
	}
	resp, err := r.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errors.New("heartbeat answered " + strconv.Itoa(resp.StatusCode))
	}
	return nil
}
