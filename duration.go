package baldur

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Duration is the duration type of every configuration in the project: a
// time.Duration that reads from JSON as a Go duration string ("50ms",
// "1m30s") or a number of seconds (1.5), and writes as a string, so that a
// config marshalled by encoding/json reads back the same. In Go, convert:
// baldur.Duration(50 * time.Millisecond).
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("invalid duration %q: %w", x, err)
		}
		*d = Duration(p)
	case float64:
		// float64(math.MaxInt64) is 2^63, one past the range: a product
		// equal to it (9223372036.854776 s) must be refused too, or the
		// conversion wraps it to a negative duration.
		ns := x * float64(time.Second)
		if math.IsNaN(ns) || math.Abs(ns) >= float64(math.MaxInt64) {
			return fmt.Errorf("duration %v seconds out of range (at most about 292 years)", x)
		}
		*d = Duration(ns)
	case nil:
		*d = 0
	default:
		return fmt.Errorf("duration must be a string like \"50ms\" or a number of seconds, not %s", string(b))
	}
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// String returns d as time.Duration formats it ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
