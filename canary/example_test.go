package canary_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/registry"
)

// allowGov allows every canary action: kill switch off, level normal,
// budget left.
type allowGov struct{ baldur.NoOpGovernance }

func (allowGov) EmergencyBlocking(context.Context, baldur.EmergencyLevel) (bool, baldur.EmergencyLevel) {
	return false, baldur.LevelNormal
}

// A throttle ten times tighter is rolled out to 5 % of the tenants of this
// process's registry, then rolled back.
func Example() {
	ctx := context.Background()
	reg := registry.New()
	running := `{"throttles": {"t": {"rate": 100, "burst": 50}}, "policies": [{"name": "api", "operations": ["GET /items/{id}"], "throttle": "t"}]}`
	if err := reg.LoadDocument([]byte(running)); err != nil {
		panic(err)
	}
	snapshot := reg.Document()
	local, _ := canary.NewLocal(canary.LocalConfig{Target: reg})
	svc, err := canary.New(canary.Config{Applier: local, Governance: allowGov{}, AutoRollback: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	tight := `{"throttles": {"t": {"rate": 10, "burst": 5}}, "policies": [{"name": "api", "operations": ["GET /items/{id}"], "throttle": "t"}]}`
	st, err := svc.Create(ctx, canary.Plan{Candidate: []byte(tight), Stages: []canary.Stage{{Share: 0.05}, {Share: 0.25}}}, canary.Op{Reason: "tighten t"})
	if err != nil {
		panic(err)
	}
	st, _ = svc.Start(ctx, st.RolloutID, canary.Op{Reason: "tighten t"})
	share, _ := reg.CohortShare()
	fmt.Println(st.Current, share)

	// A middleware using reg (a baldur.KeyedResolver) now serves 5 % of the
	// keys with the candidate; svc.Run judges them window by window.
	st, _ = svc.Rollback(ctx, st.RolloutID, canary.Op{Reason: "not today"})
	fmt.Println(st.Current, string(reg.Document()) == string(snapshot))
	// Output:
	// canary 0.05
	// rolled_back true
}
