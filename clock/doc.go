// Package clock provides two baldur.Clocks. Fake is for tests: time moves
// only when the test says so, and timers fire during Advance, so no test
// sleeps to let time pass. Coarse is for hot paths on machines where
// time.Now is slow: its Now is one atomic load of a time refreshed every
// tick (1 ms, say), at the price of that resolution.
//
//	c := clock.NewFake(time.Unix(0, 0))
//	fired := make(chan struct{})
//	c.AfterFunc(time.Second, func() { close(fired) })
//	c.Advance(time.Second) // runs the function
package clock
