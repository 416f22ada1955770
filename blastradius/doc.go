// Package blastradius bounds risky actions, such as chaos experiments,
// canary stages and automated recoveries, by how far they may reach. It is
// not a per-call gate: an automation asks before it acts, and registers the
// action while it runs.
//
// A [Manager] checks a proposed [Action] against its scope's limits
// (instance / service / region): at most 5 / 2 / 1 active at once, at most
// 100 / 50 / 10 % of traffic (region never above 50), only inside the allowed
// UTC windows (02:00–06:00 by default), never against an excluded service or
// domain, and, for service and region actions, within a global cap of 10 % of
// traffic in total. Every broken rule is listed in the decision's Violations.
// Only instance actions begin without approval by default; others wait for
// Approve, which expires after ApprovalTTL.
//
// Actions are described by [Action] with a [Scope]: instance (one replica),
// service (every replica of one service) or region. [Manager.Check] answers
// without registering; [Manager.Begin] registers an allowed action and
// [Manager.End] unregisters it. A [Decision] lists every broken rule by its
// Violation name, so an operator sees all of them at once.
package blastradius
