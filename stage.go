package baldur

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/baldur-go/baldur/internal/clip"
)

// Stage is a gate's place in a Policy's chain: a Policy runs its gates in
// ascending Stage, cheapest first and resource-holding last, and keeps the
// given order among gates of one stage.
//
// The stages are spaced ten apart so that a new kind of gate takes a place
// between two existing ones by declaring its own value (a fault-injection
// stage after the bulkhead, say, at StageBulkhead+5) in its own package,
// without renumbering anything here.
type Stage uint8

const (
	// stagePolicy is the policy's own deadline check, which runs before
	// every gate. No gate has it.
	stagePolicy Stage = 0
	// StageGovernance: kill switch, emergency level, error budget.
	StageGovernance Stage = 10
	// StageThrottle: per-key rate limits.
	StageThrottle Stage = 20
	// StageBlast: partitioned breakers and per-key share caps.
	StageBlast Stage = 30
	// StageBulkhead: bounded concurrency, the stage that holds resources.
	StageBulkhead Stage = 40
	// StageFault: fault injection (package chaos), after the bulkhead so
	// that an injected delay holds the permits a slow dependency would.
	StageFault Stage = StageBulkhead + 5
)

// namedStages are the stages this package names, in chain order.
var namedStages = [...]Stage{StageGovernance, StageThrottle, StageBlast, StageBulkhead, StageFault}

// String returns the stage's name as written in X-Baldur-Gate, metrics and
// config ("governance", "throttle", "blast", "bulkhead", "fault"); a stage declared
// outside this package is "stage(N)".
func (s Stage) String() string {
	switch s {
	case stagePolicy:
		return "deadline"
	case StageGovernance:
		return "governance"
	case StageThrottle:
		return "throttle"
	case StageBlast:
		return "blast"
	case StageBulkhead:
		return "bulkhead"
	case StageFault:
		return "fault"
	}
	return "stage(" + strconv.Itoa(int(s)) + ")"
}

// ParseStage returns the stage named s: one of the names String returns,
// or "stage(N)" for a stage declared elsewhere. Any other input is an error
// quoting it; ParseStage never panics.
func ParseStage(s string) (Stage, error) {
	for _, st := range namedStages {
		if st.String() == s {
			return st, nil
		}
	}
	if num, ok := strings.CutPrefix(s, "stage("); ok {
		if num, ok = strings.CutSuffix(num, ")"); ok {
			if n, err := strconv.ParseUint(num, 10, 8); err == nil && n != 0 {
				return Stage(n), nil
			}
		}
	}
	return 0, fmt.Errorf("baldur: unknown stage %q (want governance, throttle, blast, bulkhead or fault)", clip.String(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Stage) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseStage.
func (s *Stage) UnmarshalText(b []byte) error {
	v, err := ParseStage(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
