package throttle

import "github.com/baldur-go/baldur"

var _ baldur.KeyReporter = (*Throttle)(nil)

// KeyStats reports the key table's occupancy and the store errors that
// admitted a call, for admin views and metrics. With a custom Store the
// table fields are zero.
func (t *Throttle) KeyStats() baldur.KeyStats {
	s := t.Stats()
	return baldur.KeyStats{Keys: s.Keys, Cap: s.Cap, LossyEvictions: s.LossyEvictions, StoreErrors: t.StoreErrors()}
}
