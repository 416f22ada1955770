// Package dlq defines the dead-letter queue that keeps failed outbound calls
// for a safe replay: entries are captured with a masked, capped payload,
// move pending → replaying → resolved (or requires_review after failed
// replays), expire, and are bounded per domain and in total.
//
// This package holds the dead-letter protocol and value types: Entry (with
// its payload cap and expiry), Status, Filter, and the Repository and
// Service interfaces an implementation fills. It ships no Repository or
// Service.
package dlq
