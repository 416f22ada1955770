package governance

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur"
)

// TestSlogSinkLevels checks that one sink writes audit records at Warn and
// alerts at Error, with their attributes.
func TestSlogSinkLevels(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := SlogSink{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	s.Audit(context.Background(), AuditRecord{Reason: baldur.BlockKillSwitch, Message: "off", Operation: "GET /x", Dropped: 3})
	assert.Contains(t, buf.String(), `level=WARN msg="governance: kill_switch" message=off operation="GET /x"`)
	assert.Contains(t, buf.String(), "dropped=3")
	buf.Reset()
	s.Alert(context.Background(), Alert{Kind: AlertEmergencyUnreadable, Err: errors.New("down"), Suppressed: 2})
	assert.Contains(t, buf.String(), `level=ERROR msg="governance: check failed open" kind=emergency_unreadable error=down suppressed=2`)
}
