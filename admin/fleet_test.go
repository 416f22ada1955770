package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/admin"
)

type fakeFleet struct {
	members []admin.FleetMember
	err     error
	stores  []admin.FleetStore
}

func (f fakeFleet) Members(context.Context) ([]admin.FleetMember, error) { return f.members, f.err }
func (f fakeFleet) Stores() []admin.FleetStore                           { return f.stores }

func TestFleetEndpoint(t *testing.T) {
	t.Parallel()
	started := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	stale := 1.5
	two := []admin.FleetMember{
		{ID: "pod-a", Cluster: "shop", Version: "v1.2.0", Started: started, ConfigHash: "c0ffee", Expires: started.Add(time.Hour)},
		{ID: "pod-b", Cluster: "shop", Started: started, Expires: started.Add(time.Hour)},
	}
	tests := []struct {
		name     string
		fleet    admin.Fleet
		key      string
		status   int
		replicas int
		warning  bool
	}{
		{"no fleet configured", nil, viewerKey, http.StatusNotFound, 0, false},
		{"viewer sees the members and stores", fakeFleet{members: two, stores: []admin.FleetStore{{Name: "fleet", Breaker: "closed", Calls: 3, StalenessSeconds: &stale}}}, viewerKey, http.StatusOK, 2, false},
		{"partial answer carries a warning", fakeFleet{members: two[:1], err: errors.New("malformed record of pod-b")}, viewerKey, http.StatusOK, 1, true},
		{"unreachable store: no members, a warning", fakeFleet{err: errors.New("redis unavailable")}, viewerKey, http.StatusOK, 0, true},
		{"without a key", fakeFleet{members: two}, "", http.StatusForbidden, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, false, func(c *admin.Config) { c.Fleet = tt.fleet })
			w := e.call(http.MethodGet, "/fleet", tt.key, "")
			require.Equal(t, tt.status, w.Code, w.Body.String())
			if tt.status != http.StatusOK {
				return
			}
			var v struct {
				Replicas int                 `json:"replicas"`
				Members  []admin.FleetMember `json:"members"`
				Stores   []admin.FleetStore  `json:"stores"`
				Warnings []string            `json:"warnings"`
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v))
			assert.Equal(t, tt.replicas, v.Replicas)
			assert.Len(t, v.Members, tt.replicas)
			assert.NotNil(t, v.Stores, "stores is a list, never null")
			assert.Equal(t, tt.warning, len(v.Warnings) > 0, "warnings %v", v.Warnings)
		})
	}
}
