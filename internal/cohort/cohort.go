// Package cohort splits partition keys into a canary cohort and a baseline
// cohort by a stable hash, so that a key (a tenant) sees one policy for the
// whole of a stage, on every replica, and the canary share grows by adding
// keys, never by moving a key back.
package cohort

import "math"

const (
	offset64 = 14695981039346656037
	prime64  = 1099511628211
)

// Seed returns the hash state after salt: a rollout hashes its keys from
// its own seed, so two rollouts pick different tenants for their first
// percent.
func Seed(salt string) uint64 {
	h := uint64(offset64)
	for i := 0; i < len(salt); i++ {
		h ^= uint64(salt[i])
		h *= prime64
	}
	// A separator, so ("ab", "c") and ("a", "bc") differ.
	h ^= 0xff
	h *= prime64
	return h
}

// Hash returns the 64-bit hash of key from seed: eight bytes at a time
// through a multiply-xorshift round, the tail as the key's last eight bytes
// (overlapping the previous word; a key shorter than eight bytes as one
// word), then the splitmix64 finalizer, which spreads the state over the
// whole word so that a threshold on it splits evenly. It does not allocate.
func Hash(seed uint64, key string) uint64 {
	h := seed ^ uint64(len(key))*prime64
	n := len(key)
	if n < 8 {
		var w uint64
		for i := 0; i < n; i++ {
			w |= uint64(key[i]) << (8 * uint(i))
		}
		h = (h ^ w) * 0x9e3779b97f4a7c15
		h ^= h >> 29
	} else {
		i := 0
		for ; i+8 <= n; i += 8 {
			h = (h ^ word(key, i)) * 0x9e3779b97f4a7c15
			h ^= h >> 29
		}
		if i < n {
			h = (h ^ word(key, n-8)) * 0x9e3779b97f4a7c15
			h ^= h >> 29
		}
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// word returns the eight bytes of s at i, little-endian.
func word(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// Threshold returns the bound under which a hash is in a cohort of share
// (a fraction in [0, 1]): keys whose hash is below it. Share 1 is every
// key (math.MaxUint64, with In treating it as inclusive); a share outside
// [0, 1] or NaN is clamped.
func Threshold(share float64) uint64 {
	switch {
	case !(share > 0):
		return 0
	case share >= 1:
		return math.MaxUint64
	}
	return uint64(share * (1 << 64))
}

// In reports whether hash h is below threshold t (every hash when t is
// math.MaxUint64).
func In(h, t uint64) bool { return h < t || t == math.MaxUint64 }
