package watchdog_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur/watchdog"
)

func TestZeroStatusNotRunning(t *testing.T) {
	t.Parallel()
	var status watchdog.Status
	assert.False(t, status.Running)
}
