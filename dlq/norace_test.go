//go:build !race

package dlq_test

const raceEnabled = false
