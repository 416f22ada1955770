package dlq

import (
	"encoding/hex"
	"hash/fnv"
)

// Fingerprint returns the failure group of an entry: a hash of domain,
// operation, failure type and the normalized error message, 16 hex
// digits. Normalizing folds what differs between occurrences of one
// failure (numbers, hex identifiers, quoted values) so that "timeout
// after 1503ms on order 7781" and "timeout after 2011ms on order 12" group
// together.
func Fingerprint(domain, operation, failureType, errMsg string) string {
	h := fnv.New64a()
	for _, s := range []string{domain, operation, failureType} {
		_, _ = h.Write([]byte(s))
		_, _ = h.Write([]byte{0})
	}
	_, _ = h.Write(normalizeError(errMsg))
	var b [8]byte
	return hex.EncodeToString(h.Sum(b[:0]))
}

// normalizeError folds digit runs to '#', hex-like runs of 8 or more
// characters (IDs, hashes) to '#', and quoted runs to '?'; it keeps at most
// 256 bytes of the result.
func normalizeError(s string) []byte {
	out := make([]byte, 0, min(len(s), 256))
	for i := 0; i < len(s) && len(out) < 256; {
		c := s[i]
		switch {
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(s) && s[j] != c {
				j++
			}
			out = append(out, '?')
			i = j + 1
		case isHex(c):
			j := i
			digits := false
			for j < len(s) && (isHex(s[j]) || s[j] == '-') {
				digits = digits || (s[j] >= '0' && s[j] <= '9')
				j++
			}
			if digits && (j-i >= 8 || allDigits(s[i:j])) {
				out = append(out, '#')
			} else {
				out = append(out, s[i:j]...)
			}
			i = j
		default:
			out = append(out, c)
			i++
		}
	}
	return out
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
