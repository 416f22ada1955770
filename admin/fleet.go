package admin

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Fleet is what GET /fleet shows: the live replicas of the service and the
// health of the stores that share its state. redisstore implements it
// (Membership.AdminFleet); admin never talks to a store itself.
//
// Implementations must be safe for concurrent use.
type Fleet interface {
	// Members lists the live replicas. An error with members is a partial
	// answer (some records unreadable); both are shown.
	Members(ctx context.Context) ([]FleetMember, error)
	// Stores reports each shared store's health from local counters,
	// without a round trip.
	Stores() []FleetStore
}

// FleetMember is one live replica.
type FleetMember struct {
	ID         string    `json:"id"`
	Cluster    string    `json:"cluster"`
	Version    string    `json:"version,omitempty"`
	Started    time.Time `json:"started"`
	ConfigHash string    `json:"config_hash,omitempty"`
	// Expires is when the replica drops out without another heartbeat.
	Expires time.Time `json:"expires"`
}

// FleetStore is one shared store's health as this replica sees it.
type FleetStore struct {
	Name string `json:"name"`
	// Breaker is the state of the breaker on the store's backend
	// ("closed", "half_open", "open", ...).
	Breaker    string `json:"breaker"`
	Calls      uint64 `json:"calls"`
	RoundTrips uint64 `json:"round_trips"`
	Errors     uint64 `json:"errors"`
	Timeouts   uint64 `json:"timeouts"`
	// Rejected counts calls the open breaker answered locally.
	Rejected uint64 `json:"rejected"`
	// Fallbacks counts decisions the store's fail mode made instead of
	// the backend.
	Fallbacks uint64 `json:"fallbacks"`
	// StalenessSeconds is the age of the state the store serves; absent
	// when the store keeps none or has never synced.
	StalenessSeconds *float64 `json:"staleness_s,omitempty"`
}

type fleetView struct {
	Replicas int           `json:"replicas"`
	Members  []FleetMember `json:"members"`
	Stores   []FleetStore  `json:"stores"`
	Warnings []string      `json:"warnings,omitempty"`
}

// fleet answers GET /fleet: 404 when no Fleet is configured (a single
// replica with in-memory state); otherwise the members (with a warning
// when they could not all be read) and the stores.
func (s *Server) fleet(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	f := s.cfg.Fleet
	if f == nil {
		return nil, nil, &apiError{status: http.StatusNotFound, msg: "no fleet configured: state is local to this replica"}
	}
	members, err := f.Members(r.Context())
	v := fleetView{Members: members, Stores: f.Stores()}
	if v.Members == nil {
		v.Members = []FleetMember{}
	}
	if v.Stores == nil {
		v.Stores = []FleetStore{}
	}
	v.Replicas = len(v.Members)
	if err != nil {
		v.Warnings = append(v.Warnings, "members: "+err.Error())
	}
	return v, nil, nil
}
