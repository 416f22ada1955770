// Package clock provides a fake baldur.Clock for tests: time moves only when
// the test says so, and timers fire during Advance, so no test sleeps to let
// time pass.
//
//	c := clock.NewFake(time.Unix(0, 0))
//	fired := make(chan struct{})
//	c.AfterFunc(time.Second, func() { close(fired) })
//	c.Advance(time.Second) // runs the function
package clock
