// Package partition bounds the partition keys the adapters take from a
// request (a header, gRPC metadata), so that a huge value cannot become a
// huge key in every gate's table.
package partition

// MaxKeyLen is the longest partition key, in bytes, an adapter takes from a
// request.
const MaxKeyLen = 256

// ClipKey returns k cut to MaxKeyLen bytes. The cut may split a UTF-8
// sequence: a key is compared as bytes, never printed as text.
func ClipKey(k string) string {
	if len(k) > MaxKeyLen {
		return k[:MaxKeyLen]
	}
	return k
}
