package throttle

import (
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
)

// Header field values, as defined by draft-ietf-httpapi-ratelimit-headers
// (-10/-11): each is a Structured Field item whose value is the policy name
// as an sf-string, with integer parameters.
//
//	RateLimit-Policy: "api";q=100;w=10
//	RateLimit: "api";r=42;t=3
//
// The helpers append to a caller's buffer and never allocate when it has
// room. Only the quota's Name is written, never the partition key. Times are
// whole seconds, rounded up, so that a client that waits t seconds is not
// early.

// Header field names, for adapters.
const (
	HeaderPolicy          = "RateLimit-Policy"
	HeaderRateLimit       = "RateLimit"
	HeaderLegacyLimit     = "X-RateLimit-Limit"
	HeaderLegacyRemaining = "X-RateLimit-Remaining"
	HeaderLegacyReset     = "X-RateLimit-Reset"
)

// AppendPolicy appends the RateLimit-Policy field value of q to dst.
func AppendPolicy(dst []byte, q baldur.Quota) []byte {
	dst = appendName(dst, q.Name)
	dst = append(dst, ";q="...)
	dst = strconv.AppendInt(dst, max(q.Limit, 0), 10)
	dst = append(dst, ";w="...)
	return strconv.AppendInt(dst, Seconds(q.Window), 10)
}

// AppendRateLimit appends the RateLimit field value of s to dst.
func AppendRateLimit(dst []byte, s baldur.QuotaStatus) []byte {
	dst = appendName(dst, s.Name)
	dst = append(dst, ";r="...)
	dst = strconv.AppendInt(dst, max(s.Remaining, 0), 10)
	dst = append(dst, ";t="...)
	return strconv.AppendInt(dst, Seconds(s.Reset), 10)
}

// AppendLegacyLimit appends the X-RateLimit-Limit value (the quota) to dst.
func AppendLegacyLimit(dst []byte, q baldur.Quota) []byte {
	return strconv.AppendInt(dst, max(q.Limit, 0), 10)
}

// AppendLegacyRemaining appends the X-RateLimit-Remaining value to dst.
func AppendLegacyRemaining(dst []byte, s baldur.QuotaStatus) []byte {
	return strconv.AppendInt(dst, max(s.Remaining, 0), 10)
}

// AppendLegacyReset appends the X-RateLimit-Reset value to dst: seconds
// until the quota is restored (a delta, as the IETF draft's ancestors used,
// not a Unix time).
func AppendLegacyReset(dst []byte, s baldur.QuotaStatus) []byte {
	return strconv.AppendInt(dst, Seconds(s.Reset), 10)
}

// Seconds rounds d up to whole seconds; zero and negative durations give 0.
func Seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return ceilDiv(int64(d), int64(time.Second))
}

// appendName appends name as an sf-string: quoted, with '"' and '\'
// escaped. Bytes an sf-string cannot hold (controls, non-ASCII) become '_',
// so that whatever the configuration, the field stays well-formed.
func appendName(dst []byte, name string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c > 0x7e:
			dst = append(dst, '_')
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
