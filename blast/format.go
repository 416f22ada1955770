package blast

import "strconv"

// ftoa formats a config value for an error message, shortest form first.
func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
