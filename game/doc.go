// Package game is Podium's domain: teams, reps, deals, activities, boards and
// the pure rules that turn an input into ledger entries and board deltas.
//
// It does no I/O, reads no clock and holds no global mutable state; callers pass
// the time and the company's location. It imports only the standard library and
// shopspring/decimal, which a test in this package enforces.
package game
