package blastradius

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur"
)

// Window is a daily time window in UTC, from Start (inclusive) to End
// (exclusive), both offsets from midnight. End may be earlier than Start for
// a window that spans midnight (22:00–02:00); End may be 24h.
type Window struct {
	Start, End time.Duration
}

// AnyTime is the window that covers the whole day.
var AnyTime = Window{Start: 0, End: 24 * time.Hour}

const day = 24 * time.Hour

// ParseWindow parses "HH:MM-HH:MM" (UTC), such as "02:00-06:00" or
// "22:30-01:00"; "24:00" is allowed as an end.
func ParseWindow(s string) (Window, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Window{}, &baldur.ConfigError{Field: "Window", Value: s, Reason: `must be "HH:MM-HH:MM"`}
	}
	start, err1 := parseClock(a)
	end, err2 := parseClock(b)
	if err1 != nil || err2 != nil || start == day {
		return Window{}, &baldur.ConfigError{Field: "Window", Value: s, Reason: `must be "HH:MM-HH:MM" with times from 00:00 to 24:00`}
	}
	w := Window{Start: start, End: end}
	if err := w.validate("Window"); err != nil {
		return Window{}, err
	}
	return w, nil
}

func parseClock(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) != 2 || len(mm) != 2 {
		return 0, strconv.ErrSyntax
	}
	h, err := strconv.ParseUint(hh, 10, 8)
	if err != nil {
		return 0, err
	}
	m, err := strconv.ParseUint(mm, 10, 8)
	if err != nil || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, strconv.ErrSyntax
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// String formats w as ParseWindow reads it.
func (w Window) String() string { return clockString(w.Start) + "-" + clockString(w.End) }

func clockString(d time.Duration) string {
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	return string([]byte{byte('0' + h/10), byte('0' + h%10), ':', byte('0' + m/10), byte('0' + m%10)})
}

func (w Window) validate(field string) error {
	switch {
	case w.Start < 0 || w.Start >= day || w.End < 0 || w.End > day:
		return &baldur.ConfigError{Field: field, Value: w.String(), Reason: "times must lie within the day (00:00 to 24:00)"}
	case w.Start == w.End:
		return &baldur.ConfigError{Field: field, Value: w.String(), Reason: "is empty"}
	}
	return nil
}

// segments splits w into at most two non-wrapping [from, to) spans.
func (w Window) segments() [][2]time.Duration {
	if w.Start < w.End {
		return [][2]time.Duration{{w.Start, w.End}}
	}
	out := [][2]time.Duration{{w.Start, day}}
	if w.End > 0 {
		out = append(out, [2]time.Duration{0, w.End})
	}
	return out
}

func (w Window) contains(tod time.Duration) bool {
	if w.Start < w.End {
		return tod >= w.Start && tod < w.End
	}
	return tod >= w.Start || tod < w.End
}

// validateWindows rejects empty windows and windows that overlap.
func validateWindows(ws []Window) error {
	type seg struct {
		from, to time.Duration
		i        int
	}
	var segs []seg
	for i, w := range ws {
		field := "Windows[" + strconv.Itoa(i) + "]"
		if err := w.validate(field); err != nil {
			return err
		}
		for _, s := range w.segments() {
			segs = append(segs, seg{s[0], s[1], i})
		}
	}
	sort.Slice(segs, func(a, b int) bool { return segs[a].from < segs[b].from })
	for k := 1; k < len(segs); k++ {
		if segs[k].from < segs[k-1].to {
			a, b := segs[k-1].i, segs[k].i
			return &baldur.ConfigError{
				Field:  "Windows[" + strconv.Itoa(max(a, b)) + "]",
				Value:  ws[max(a, b)].String(),
				Reason: "overlaps " + ws[min(a, b)].String(),
			}
		}
	}
	return nil
}

func timeOfDay(t time.Time) time.Duration {
	t = t.UTC()
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
		time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
}
