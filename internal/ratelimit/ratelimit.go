// Package ratelimit formats the RateLimit-Policy and RateLimit header fields
// of draft-ietf-httpapi-ratelimit-headers (-10/-11), the one formatter of
// the throttle's helpers and the HTTP middleware.
//
// Each field value is a Structured Field item (RFC 9651): the quota
// policy's name as an sf-string, then integer parameters.
//
//	RateLimit-Policy: "api";q=100;w=10
//	RateLimit: "api";r=42;t=3
//
// An sf-string holds printable ASCII only, with '"' and '\' escaped by a
// backslash and no other escape; a byte it cannot hold (a control character,
// any byte of a non-ASCII character) is written as '_', so that the field stays
// well-formed whatever the configuration says. An empty name is written as
// "default". Integers are clamped to the range of an sf-integer that is not
// negative (0 to 999,999,999,999,999, fifteen digits at most), and the window
// is at least one second. The functions append to the caller's buffer and
// allocate nothing when it has room; they are safe for concurrent use.
package ratelimit

import (
	"strconv"
	"time"
)

// DefaultName is the policy name written for a quota without one.
const DefaultName = "default"

// MaxInteger is the largest sf-integer.
const MaxInteger = 999_999_999_999_999

// AppendPolicy appends the RateLimit-Policy value of a quota of limit units
// per window to dst: the name, q=limit and w=window in whole seconds,
// rounded up.
func AppendPolicy(dst []byte, name string, limit int64, window time.Duration) []byte {
	dst = appendName(dst, name)
	dst = append(dst, ";q="...)
	dst = appendInt(dst, limit)
	dst = append(dst, ";w="...)
	return appendInt(dst, max(Seconds(window), 1))
}

// AppendRateLimit appends the RateLimit value to dst: the name, r=remaining
// and t=resetSeconds (the time until the quota is restored, whole seconds).
func AppendRateLimit(dst []byte, name string, remaining, resetSeconds int64) []byte {
	dst = appendName(dst, name)
	dst = append(dst, ";r="...)
	dst = appendInt(dst, remaining)
	dst = append(dst, ";t="...)
	return appendInt(dst, resetSeconds)
}

// Seconds rounds d up to whole seconds, as the fields count them, so that a
// client that waits t seconds is not early: 1.2 s is 2. Zero and negative
// durations give 0.
func Seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d-1)/time.Second) + 1
}

// appendInt appends n as a non-negative sf-integer.
func appendInt(dst []byte, n int64) []byte {
	return strconv.AppendInt(dst, min(max(n, 0), MaxInteger), 10)
}

// appendName appends name as an sf-string.
func appendName(dst []byte, name string) []byte {
	if name == "" {
		name = DefaultName
	}
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
