// Package clip shortens user input quoted back in error messages, so that a
// huge header, flag or configuration value cannot become a huge error.
package clip

// Max is how many bytes of the input an error message keeps.
const Max = 64

// String returns s, or its first Max bytes followed by "..." when it is
// longer. The cut may split a UTF-8 sequence; callers quote the result
// (%q, strconv.Quote), which escapes the stray bytes.
func String(s string) string {
	if len(s) > Max {
		return s[:Max] + "..."
	}
	return s
}
