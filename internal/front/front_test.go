package front

import (
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// A kept string is cached from its second miss on; a copy of its bytes at
// another address is another key.
func TestKeptStringIsCachedFromItsSecondMiss(t *testing.T) {
	t.Parallel()
	var c Cache[int]
	s := strings.Clone("GET /items/{id}")
	_, ok := c.Get(s)
	assert.False(t, ok)
	c.Miss(s, 7)
	_, ok = c.Get(s)
	assert.False(t, ok, "cached on its first miss")
	c.Miss(s, 7)
	v, ok := c.Get(s)
	assert.True(t, ok)
	assert.Equal(t, 7, v)
	_, ok = c.Get(strings.Clone(s))
	assert.False(t, ok, "a copy at another address hit")
	assert.Equal(t, 1, c.Len())
}

// Strings built afresh per call never allocate an entry.
func TestFreshStringsAllocateNothing(t *testing.T) {
	var c Cache[int]
	fresh := make([]string, 1100)
	for i := range fresh {
		fresh[i] = strings.Clone("GET /items/{id}")
	}
	i := 0
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		if _, ok := c.Get(fresh[i]); !ok {
			c.Miss(fresh[i], i)
		}
		i++
	}))
	assert.Zero(t, c.Len())
}

// The empty string (nil data) is never cached, and a hit returns the
// value its own string was stored with even when many share slots.
func TestManyKeptStringsAnswerTheirOwnValues(t *testing.T) {
	t.Parallel()
	var c Cache[int]
	c.Miss("", 1)
	c.Miss("", 1)
	_, ok := c.Get("")
	assert.False(t, ok)
	kept := make([]string, 4*Slots)
	for i := range kept {
		kept[i] = strings.Repeat("x", i%17+1) + strings.Repeat("y", i/17)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 3 {
				for i := g; i < len(kept); i += 4 {
					if v, ok := c.Get(kept[i]); ok {
						if v != i {
							t.Errorf("round %d: %q answered %d, want %d", round, kept[i], v, i)
						}
						continue
					}
					c.Miss(kept[i], i)
				}
			}
		}()
	}
	wg.Wait()
	assert.Positive(t, c.Len())
}

type addr struct{ ip string }

// A pointer is cached from its second miss on; another object with the
// same contents is another key; fresh objects never allocate an entry.
func TestPointersByIdentity(t *testing.T) {
	t.Parallel()
	var c Pointers[addr, string]
	a := &addr{"10.0.0.1"}
	c.Miss(a, a.ip)
	_, ok := c.Get(a)
	assert.False(t, ok, "cached on its first miss")
	c.Miss(a, a.ip)
	v, ok := c.Get(a)
	assert.True(t, ok)
	assert.Equal(t, "10.0.0.1", v)
	_, ok = c.Get(&addr{"10.0.0.1"})
	assert.False(t, ok, "another object with the same contents hit")
	var nilAddr *addr
	c.Miss(nilAddr, "")
	c.Miss(nilAddr, "")
	_, ok = c.Get(nilAddr)
	assert.False(t, ok, "nil was cached")
}

func TestPointersFreshObjectsAllocateNothing(t *testing.T) {
	var c Pointers[addr, int]
	fresh := make([]*addr, 1100)
	for i := range fresh {
		fresh[i] = &addr{"x"}
	}
	i := 0
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		if _, ok := c.Get(fresh[i]); !ok {
			c.Miss(fresh[i], i)
		}
		i++
	}))
}

// Of two hot pointers sharing a slot, the cached one stays and the other
// misses without allocating; neither is answered with the other's value.
func TestPointersCollidingHotPairDoesNotThrash(t *testing.T) {
	var c Pointers[addr, int]
	objs := make([]*addr, 0, 2)
	slot := uint64(1 << 62)
	for len(objs) < 2 {
		a := &addr{"x"}
		i := pointerIndex(uintptr(unsafe.Pointer(a)))
		if slot == 1<<62 {
			slot = i
		}
		if i == slot {
			objs = append(objs, a)
		}
	}
	a, b := objs[0], objs[1]
	value := map[*addr]int{a: 1, b: 2}
	call := func(p *addr) {
		if v, ok := c.Get(p); ok {
			if v != value[p] {
				t.Fatalf("answered %d, want %d", v, value[p])
			}
			return
		}
		c.Miss(p, value[p])
	}
	call(a)
	call(a) // a is cached
	allocs := testing.AllocsPerRun(1000, func() { call(a); call(b) })
	assert.Zero(t, allocs, "the pair thrashed")
	v, ok := c.Get(a)
	assert.True(t, ok)
	assert.Equal(t, 1, v)
}

// A name and a prefix of it share an address; taking turns they never
// store, and each is answered with its own value.
func TestSameAddressOtherLengthsDoNotThrash(t *testing.T) {
	var c Cache[int]
	long := strings.Clone("GET /items/{id}/reviews")
	short := long[:14]
	value := map[string]int{long: 1, short: 2}
	call := func(s string) {
		if v, ok := c.Get(s); ok {
			if v != value[s] {
				t.Fatalf("%q answered %d", s, v)
			}
			return
		}
		c.Miss(s, value[s])
	}
	assert.Zero(t, testing.AllocsPerRun(1000, func() { call(long); call(short) }))
}
