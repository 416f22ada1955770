package canary

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/baldur-go/baldur"
)

// Limits of a Plan.
const (
	// MaxStages bounds a plan's stages.
	MaxStages = 16
	// MaxCandidateSize bounds a candidate document (1 MiB).
	MaxCandidateSize = 1 << 20
)

// Stage is one step of a rollout: a share of the partition keys on the
// candidate, observed for a duration.
type Stage struct {
	// Share is the fraction of keys resolved in the candidate's table, in
	// (0, 1]; shares grow from stage to stage (a stage may keep the share of
	// a previous stage limited to Clusters, to widen it to more replicas).
	Share float64 `json:"share"`
	// Duration is the observation before the stage may be promoted. Zero
	// means the service's stage_duration.
	Duration baldur.Duration `json:"duration,omitempty"`
	// Clusters, when not empty, names the replica clusters the stage
	// applies in (LocalConfig.Cluster): replicas of other clusters keep
	// every key on the baseline (their split is installed at share 0, so
	// their calls are observed as baseline). Empty means every replica.
	// At most MaxClusters names, each 1..64 bytes.
	Clusters []string `json:"clusters,omitempty"`
}

// MaxClusters bounds Stage.Clusters.
const MaxClusters = 64

// Plan is what a rollout applies, stage by stage.
type Plan struct {
	// ConfigType names the configuration; at most one rollout per config
	// type is active at a time. Empty means "registry".
	ConfigType string `json:"config_type,omitempty"`
	// Candidate is the candidate configuration document.
	Candidate json.RawMessage `json:"candidate"`
	// Stages run in order; at least one is required.
	Stages []Stage `json:"stages"`
}

// Validate checks the plan's shape (not the candidate's content, which the
// Applier validates) against the allow-listed config types.
func (p *Plan) Validate(allowed []string) error {
	bad := func(field string, v any, reason string) error {
		return &baldur.ConfigError{Field: field, Value: fmt.Sprint(v), Reason: reason}
	}
	if p.ConfigType == "" {
		p.ConfigType = "registry"
	}
	if !slices.Contains(allowed, p.ConfigType) {
		return bad("config_type", fmt.Sprintf("%q", p.ConfigType), fmt.Sprintf("not an allowed config type %v", allowed))
	}
	switch {
	case len(p.Candidate) == 0:
		return bad("candidate", "", "is required")
	case len(p.Candidate) > MaxCandidateSize:
		return bad("candidate", len(p.Candidate), "larger than 1 MiB")
	case len(p.Stages) == 0:
		return bad("stages", 0, "at least one stage is required")
	case len(p.Stages) > MaxStages:
		return bad("stages", len(p.Stages), fmt.Sprintf("at most %d stages", MaxStages))
	}
	prev := 0.0
	for i, st := range p.Stages {
		at := fmt.Sprintf("stages[%d]", i)
		if math.IsNaN(st.Share) || st.Share <= 0 || st.Share > 1 {
			return bad(at+".share", st.Share, "must be in (0, 1]")
		}
		// A stage grows the share, or keeps it and widens a previous
		// stage's cluster selector.
		if st.Share < prev || st.Share == prev && (i == 0 || len(p.Stages[i-1].Clusters) == 0) {
			return bad(at+".share", st.Share, "must be larger than the previous stage's, or equal to it after a stage limited to clusters")
		}
		if st.Duration < 0 {
			return bad(at+".duration", st.Duration, "must not be negative")
		}
		if len(st.Clusters) > MaxClusters {
			return bad(at+".clusters", len(st.Clusters), fmt.Sprintf("at most %d clusters", MaxClusters))
		}
		for j, c := range st.Clusters {
			if c == "" || len(c) > 64 {
				return bad(fmt.Sprintf("%s.clusters[%d]", at, j), c, "must be 1..64 bytes")
			}
		}
		prev = st.Share
	}
	return nil
}

func (p *Plan) duration(i int, def time.Duration) time.Duration {
	if d := p.Stages[i].Duration.D(); d > 0 {
		return d
	}
	return def
}
