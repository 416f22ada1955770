package notify

import (
	"hash/maphash"
	"sync"
)

// keyTable holds per-key state: the cooldown and the repeat count of
// escalation. Lookups hash the key (or source and title) without building
// a string, so a suppressed notification allocates nothing.
type keyTable struct {
	seed     maphash.Seed
	perShard int
	shards   [numShards]shard
}

const numShards = 32

type shard struct {
	mu sync.Mutex
	m  map[uint64]*entry
}

// entry is one key's state, guarded by its shard's mutex.
type entry struct {
	key, source, title string // identity: key when set, else source and title

	until    int64    // end of the cooldown (or of the sending lease while claiming)
	sentPrio Priority // priority last sent; a higher one breaks the cooldown
	gen      uint64   // bumped at each send; a late settle of an older send is ignored

	count int   // repeats within the escalation window
	start int64 // start of the escalation window

	resolvedUntil int64 // a resolve was sent; another within this is not_open
	quiet         int   // cooldown hits since the last send
}

func newKeyTable(maxKeys int) *keyTable {
	t := &keyTable{seed: maphash.MakeSeed(), perShard: max(maxKeys/numShards, 1)}
	for i := range t.shards {
		t.shards[i].m = map[uint64]*entry{}
	}
	return t
}

func (t *keyTable) hash(n *Notification) uint64 {
	if n.Key != "" {
		return maphash.String(t.seed, n.Key)
	}
	h := maphash.String(t.seed, n.Source)
	return (h*0x9E3779B97F4A7C15 ^ maphash.String(t.seed, n.Title)) + 1
}

func (e *entry) is(n *Notification) bool {
	if n.Key != "" {
		return e.key == n.Key
	}
	return e.key == "" && e.source == n.Source && e.title == n.Title
}

// lock returns the locked shard of h and the entry of n in it (nil when
// absent or when h's slot holds another key: a hash collision, which then
// shares nothing). The caller unlocks.
func (t *keyTable) lock(h uint64, n *Notification) (*shard, *entry) {
	s := &t.shards[h%numShards]
	s.mu.Lock()
	e := s.m[h]
	if e != nil && !e.is(n) {
		return s, nil
	}
	return s, e
}

// create adds n's entry to the locked shard s; nil when the shard is full
// of live entries. window is the escalation window, in nanoseconds.
func (t *keyTable) create(s *shard, h uint64, n *Notification, now, window int64) *entry {
	if old := s.m[h]; old != nil {
		return nil // a collision: the other key keeps the slot
	}
	if len(s.m) >= t.perShard {
		for k, e := range s.m {
			if e.until <= now && e.start+window <= now && e.resolvedUntil <= now {
				delete(s.m, k)
			}
		}
		if len(s.m) >= t.perShard {
			return nil
		}
	}
	e := &entry{key: n.Key, start: now}
	if n.Key == "" {
		e.source, e.title = n.Source, n.Title
	}
	s.m[h] = e
	return e
}

func (t *keyTable) hashOf(e *entry) uint64 {
	return t.hash(&Notification{Key: e.key, Source: e.source, Title: e.title})
}
