package idempotency

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderField is one stored response header line.
type HeaderField struct{ Name, Value string }

// Response is what a completed record remembers: the status (an HTTP
// status, or a gRPC code), the allow-listed header lines in the order the
// handler set them, and the body. A Response a ledger returns is shared:
// read it, never modify it.
type Response struct {
	Status int
	Header []HeaderField
	Body   []byte
}

// Size is the length of r's encoding.
func (r *Response) Size() int {
	n := 2 + uvarintLen(uint64(r.Status)) + uvarintLen(uint64(len(r.Header))) + uvarintLen(uint64(len(r.Body))) + len(r.Body)
	for _, h := range r.Header {
		n += uvarintLen(uint64(len(h.Name))) + len(h.Name) + uvarintLen(uint64(len(h.Value))) + len(h.Value)
	}
	return n
}

// Limits of the stored-response encoding; DecodeResponse refuses anything
// beyond them.
const (
	maxStoredHeaders   = 64
	maxStoredHeaderLen = 8 << 10
	maxStoredStatus    = 999
	responseMagic      = 'R'
	responseVersion    = 1
)

// ErrMalformedResponse matches every error of DecodeResponse.
var ErrMalformedResponse = errors.New("idempotency: malformed stored response")

// AppendEncode appends r's encoding to dst: 'R', version 1, then uvarints
// for the status and the header count, each header as uvarint-prefixed name
// and value, and the uvarint-prefixed body. Nothing else follows.
func (r *Response) AppendEncode(dst []byte) []byte {
	dst = append(dst, responseMagic, responseVersion)
	dst = binary.AppendUvarint(dst, uint64(r.Status))
	dst = binary.AppendUvarint(dst, uint64(len(r.Header)))
	for _, h := range r.Header {
		dst = binary.AppendUvarint(dst, uint64(len(h.Name)))
		dst = append(dst, h.Name...)
		dst = binary.AppendUvarint(dst, uint64(len(h.Value)))
		dst = append(dst, h.Value...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Body)))
	return append(dst, r.Body...)
}

// DecodeResponse decodes an AppendEncode encoding. The body aliases b.
// Input it did not write (truncated, oversized counts, trailing bytes, a
// status above 999) is an error matching ErrMalformedResponse; it never
// panics.
func DecodeResponse(b []byte) (*Response, error) {
	if len(b) < 2 || b[0] != responseMagic || b[1] != responseVersion {
		return nil, fmt.Errorf("%w: bad header", ErrMalformedResponse)
	}
	d := decoder{b: b[2:]}
	r := &Response{Status: int(d.uvarint(maxStoredStatus))}
	n := int(d.uvarint(maxStoredHeaders))
	if n > 0 && d.err == nil {
		r.Header = make([]HeaderField, n)
		for i := range r.Header {
			r.Header[i].Name = string(d.bytes(maxStoredHeaderLen))
			r.Header[i].Value = string(d.bytes(maxStoredHeaderLen))
		}
	}
	r.Body = d.bytes(len(b))
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedResponse, d.err)
	}
	return r, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint(limit uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(v) {
		d.err = errors.New("truncated or non-minimal number")
		return 0
	}
	if v > limit {
		d.err = fmt.Errorf("value %d above %d", v, limit)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(limit int) []byte {
	n := int(d.uvarint(uint64(limit)))
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.err = errors.New("truncated field")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
