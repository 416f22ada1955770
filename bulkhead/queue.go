package bulkhead

// waiter is one caller queued for a permit. Its fields are guarded by the
// semaphore's mu; ready is closed once, when the waiter is granted a permit
// or expires, after which the waiter reads granted without the lock.
type waiter struct {
	prev, next *waiter
	ready      chan struct{}
	queued     bool
	granted    bool
}

// waitQueue is an intrusive FIFO list: O(1) push, pop and removal of a
// cancelled waiter from the middle, with no allocation beyond the waiter.
type waitQueue struct {
	head, tail *waiter
}

func (q *waitQueue) push(w *waiter) {
	w.queued = true
	w.prev = q.tail
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
}

func (q *waitQueue) remove(w *waiter) {
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
}
