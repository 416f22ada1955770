// Package glob matches the operation, source and key patterns of the
// configuration: '*' matches any run of bytes (including '/'), every other
// byte matches itself. There are no character classes and no escapes, so
// every pattern is valid.
package glob

// Match reports whether s matches pattern. It runs in
// O(len(pattern)·len(s)) at worst, without recursion, and never allocates.
func Match(pattern, s string) bool {
	px, sx := 0, 0
	nextPx, nextSx := -1, -1
	for px < len(pattern) || sx < len(s) {
		if px < len(pattern) {
			if c := pattern[px]; c == '*' {
				nextPx, nextSx = px, sx+1
				px++
				continue
			} else if sx < len(s) && s[sx] == c {
				px++
				sx++
				continue
			}
		}
		if nextSx > 0 && nextSx <= len(s) {
			px, sx = nextPx, nextSx
			continue
		}
		return false
	}
	return true
}
