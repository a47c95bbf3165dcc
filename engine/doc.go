// Package engine is Podium's live core: the ingest pipeline that turns deals
// and activities into ledger rows in one SQL transaction, the outbox that
// carries their effects to the boards and the bus after commit, rebuild of the
// derived boards from the ledger, and the hub that fans updates out to
// WebSocket connections.
//
// The engine declares the ports it needs (Store, Boards, Bus in ports.go) and
// never imports an adapter; cmd/podium wires them.
//
// Concurrency contract. Ingest calls may come from any number of goroutines:
// they queue to a fixed set of committer goroutines that group queued events
// into one transaction (group commit), apply the committed effects and only
// then answer. A rebuild takes the engine's ingest lock exclusively, so on one
// node no event is between commit and board update while boards are rebuilt.
// The Hub is safe for concurrent use; each Conn is written by exactly one
// goroutine of the server (its writer), fed through a bounded queue that the
// hub never blocks on: a full queue disconnects the client as slow.
package engine
