package canary_test

import (
	"encoding/json"
	"testing"

	"github.com/baldur-go/baldur/canary"
)

// FuzzPlan: a posted plan decodes and validates, or is refused, without
// panicking; a plan that validates has growing shares in (0, 1].
func FuzzPlan(f *testing.F) {
	f.Add([]byte(`{"candidate": {"policies": []}, "stages": [{"share": 0.01}, {"share": 0.05, "duration": "1m"}, {"share": 1}]}`))
	f.Add([]byte(`{"config_type": "registry", "candidate": {}, "stages": [{"share": -1}]}`))
	f.Add([]byte(`{"stages": [{"share": 1e309}]}`))
	f.Add([]byte(`{"candidate": {}, "stages": [{"share": 0.1, "clusters": ["eu"]}, {"share": 0.1}, {"share": 0.1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p canary.Plan
		if json.Unmarshal(b, &p) != nil {
			return
		}
		if p.Validate([]string{"registry"}) != nil {
			return
		}
		prev := 0.0
		for i, s := range p.Stages {
			widens := i > 0 && len(p.Stages[i-1].Clusters) > 0 && s.Share == prev
			if !((s.Share > prev || widens) && s.Share <= 1) {
				t.Fatalf("accepted share %v after %v", s.Share, prev)
			}
			for _, c := range s.Clusters {
				if c == "" || len(c) > 64 {
					t.Fatalf("accepted cluster %q", c)
				}
			}
			prev = s.Share
		}
	})
}

// FuzzState: ParseState accepts exactly the names String returns.
func FuzzState(f *testing.F) {
	f.Add("canary")
	f.Add("rolled_back")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := canary.ParseState(s)
		if err == nil && st.String() != s {
			t.Fatalf("ParseState(%q) = %v", s, st)
		}
	})
}
