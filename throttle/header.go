package throttle

import (
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/ratelimit"
)

// Header field values, as defined by draft-ietf-httpapi-ratelimit-headers
// (-10/-11): each is a Structured Field item whose value is the policy name
// as an sf-string, with integer parameters. They are formatted exactly as
// the HTTP middleware writes them (middleware.FormatRateLimitPolicy and
// FormatRateLimit):
//
//	RateLimit-Policy: "api";q=100;w=10
//	RateLimit: "api";r=42;t=3
//
// The helpers append to a caller's buffer and never allocate when it has
// room. Only the quota's Name is written, never the partition key; a byte
// an sf-string cannot hold (a control, non-ASCII) is written as '_', and an
// empty name as "default". Times are whole seconds, rounded up, so that a
// client that waits t seconds is not early; the window is at least one.

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
	return ratelimit.AppendPolicy(dst, q.Name, q.Limit, q.Window)
}

// AppendRateLimit appends the RateLimit field value of s to dst.
func AppendRateLimit(dst []byte, s baldur.QuotaStatus) []byte {
	return ratelimit.AppendRateLimit(dst, s.Name, s.Remaining, Seconds(s.Reset))
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
func Seconds(d time.Duration) int64 { return ratelimit.Seconds(d) }
