package admin

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

// Bounds on request fields. Reasons are stored and logged; durations are
// added to the clock and must not overflow it.
const (
	maxReasonLen = 1024
	maxKeyLen    = 1024
	maxDuration  = 366 * 24 * time.Hour
	maxErrorLen  = 256
)

// apiError is an error answer: {"error": msg, "field": field}. cause is
// the failure behind an answer the client cannot fix: it goes to the audit
// record, never to the client.
type apiError struct {
	status int
	msg    string
	field  string
	cause  error
}

func badRequest(field, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: msg, field: field}
}

// internal answers an error the caller cannot fix (a store failing) with
// 500; err is logged, not answered.
func internal(what string, err error) *apiError {
	return &apiError{status: http.StatusInternalServerError, msg: what + " failed; see the server log", cause: err}
}

// fromConfigError answers a *baldur.ConfigError found in err with status,
// naming its field.
func fromConfigError(err error, status int) (*apiError, bool) {
	var ce *baldur.ConfigError
	if !errors.As(err, &ce) {
		return nil, false
	}
	return &apiError{status: status, msg: err.Error(), field: ce.Field}, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := struct {
		Error string `json:"error"`
		Field string `json:"field,omitempty"`
	}{truncate(e.msg), e.field}
	writeJSON(w, e.status, body)
}

// truncate bounds a message that may echo client input.
func truncate(s string) string {
	if len(s) <= maxErrorLen {
		return s
	}
	s = s[:maxErrorLen]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}

// decode reads one JSON value into v strictly: unknown fields, trailing
// data and an empty body are errors; a body over the limit is 413.
func decode(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	switch err := dec.Decode(&struct{}{}); {
	case err == io.EOF:
		return nil
	case err != nil:
		if e := decodeError(err); e.status == http.StatusRequestEntityTooLarge {
			return e
		}
	}
	return badRequest("", "trailing data after the JSON object")
}

func decodeError(err error) *apiError {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return &apiError{status: http.StatusRequestEntityTooLarge, msg: "body larger than " + strconv.FormatInt(tooBig.Limit, 10) + " bytes"}
	case err == io.EOF:
		return badRequest("", "empty body: want a JSON object")
	case errors.Is(err, errLevel):
		return badRequest("level", errLevel.Error())
	}
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) && ute.Field != "" {
		return badRequest(ute.Field, "malformed JSON: "+err.Error())
	}
	return badRequest("", "malformed JSON: "+err.Error())
}

// input is a request body that validates itself once decoded.
type input interface {
	validate() *apiError
}

// decodeInput decodes the body into in (see decode) and validates it.
func decodeInput(r *http.Request, in input) *apiError {
	if e := decode(r, in); e != nil {
		return e
	}
	return in.validate()
}

// checkText validates a free-text field: bounded and printable.
func checkText(field, v string, required bool, max int) *apiError {
	switch {
	case v == "" && required:
		return badRequest(field, field+" is required")
	case len(v) > max:
		return badRequest(field, field+" longer than "+strconv.Itoa(max)+" bytes")
	case !printable(v):
		return badRequest(field, field+" must be printable UTF-8")
	}
	return nil
}

// checkDuration validates a duration field: not negative, at most a year.
func checkDuration(field string, d registry.Duration) *apiError {
	if d < 0 || d.D() > maxDuration {
		return badRequest(field, field+" must be between 0 and "+maxDuration.String())
	}
	return nil
}

// level is an emergency level in a request: a number 0..3 or a name
// ("NORMAL", "LEVEL_2", "level_2", "2").
type level baldur.EmergencyLevel

func (l *level) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var n int
	switch x := v.(type) {
	case float64:
		if x < 0 || x > float64(baldur.MaxEmergencyLevel) || x != math.Trunc(x) {
			return errLevel
		}
		n = int(x)
	case string:
		s := strings.ToUpper(strings.TrimSpace(x))
		if s == "NORMAL" {
			s = "0"
		}
		var err error
		if n, err = strconv.Atoi(strings.TrimPrefix(s, "LEVEL_")); err != nil || n < 0 || n > int(baldur.MaxEmergencyLevel) {
			return errLevel
		}
	default:
		return errLevel
	}
	*l = level(n)
	return nil
}

var errLevel = errors.New("level must be 0..3, NORMAL or LEVEL_1..LEVEL_3")
