package dlq

import (
	"encoding/binary"
	"time"

	"github.com/baldur-go/baldur"
)

// The stored record of an entry (spill files, Redis hashes): a version
// byte, then the fields in a fixed order, strings and the payload
// uvarint-length-prefixed, times as varint Unix nanoseconds (0 for the zero
// time). DecodeEntry checks every length against what is left and every
// enumerated value, so a corrupt or hostile record is ErrMalformed, never a
// panic or a huge allocation.
const recordVersion = 1

// Bounds DecodeEntry enforces.
const (
	maxRecordString = 64 << 10
	maxHeaders      = 64
)

// AppendEntry appends the stored record of e to b.
func AppendEntry(b []byte, e *Entry) []byte {
	b = append(b, recordVersion)
	for _, s := range [...]string{e.ID, e.Domain, e.Operation, e.Method, e.URL, e.FailureType, e.Error, e.Group, e.TraceID, e.PayloadDropped} {
		b = appendString(b, s)
	}
	var flags byte
	if e.Truncated {
		flags |= 1
	}
	b = append(b, byte(e.Tier), byte(e.Origin), byte(e.Status), flags)
	b = binary.AppendUvarint(b, uint64(max(e.Attempts, 0)))
	for _, t := range [...]time.Time{e.CreatedAt, e.UpdatedAt, e.ExpiresAt, e.LeaseUntil} {
		b = binary.AppendVarint(b, unixNano(t))
	}
	b = binary.AppendUvarint(b, e.Holder)
	b = binary.AppendUvarint(b, uint64(len(e.Header)))
	for k, v := range e.Header {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Payload)))
	return append(b, e.Payload...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// DecodeEntry decodes a stored record (all of b). Any damage is an error
// matching ErrMalformed.
func DecodeEntry(b []byte) (Entry, error) {
	d := decoder{b: b}
	var e Entry
	if d.byte() != recordVersion {
		return Entry{}, ErrMalformed
	}
	for _, p := range [...]*string{&e.ID, &e.Domain, &e.Operation, &e.Method, &e.URL, &e.FailureType, &e.Error, &e.Group, &e.TraceID, &e.PayloadDropped} {
		*p = d.string()
	}
	e.Tier = baldur.Tier(d.byte())
	e.Origin = Origin(d.byte())
	e.Status = Status(d.byte())
	flags := d.byte()
	e.Truncated = flags&1 != 0
	att := d.uvarint()
	if att > 1<<20 {
		d.bad = true
	}
	e.Attempts = int(att)
	for _, p := range [...]*time.Time{&e.CreatedAt, &e.UpdatedAt, &e.ExpiresAt, &e.LeaseUntil} {
		*p = fromUnixNano(d.varint())
	}
	e.Holder = d.uvarint()
	n := d.uvarint()
	if n > maxHeaders {
		d.bad = true
	} else if n > 0 {
		e.Header = make(map[string]string, n)
		for i := uint64(0); i < n && !d.bad; i++ {
			k := d.string()
			e.Header[k] = d.string()
		}
	}
	pl := d.uvarint()
	if pl > MaxPayload || pl > uint64(len(d.b)) {
		d.bad = true
	} else if pl > 0 {
		e.Payload = append([]byte(nil), d.b[:pl]...)
		d.b = d.b[pl:]
	}
	if d.bad || len(d.b) != 0 || flags&^1 != 0 || !e.Tier.Valid() || e.Origin >= numOrigins || !e.Status.Valid() || e.ID == "" {
		return Entry{}, ErrMalformed
	}
	return e, nil
}

type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.bad || n > maxRecordString || n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
