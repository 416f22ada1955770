// Package watchdog defines the watchdog of the self-healing machinery: it
// renews the locks of long-running actions, detects stalls, applies the
// emergency interlock and pages once per incident, without overriding an
// operator's manual blocks.
//
// This package holds the watchdog's protocol and value types: Finding,
// Report, Status and the Watchdog interface an implementation fills. It
// ships no Watchdog.
package watchdog
