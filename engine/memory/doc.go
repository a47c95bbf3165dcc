// Package memory implements engine.Boards and engine.Bus inside one process,
// for the embedded running mode (one node, no Redis).
//
// Boards keeps each board as an order-statistic treap ordered by
// game.RankLess plus a map from rep id to score, so an update, a rank and the
// k-th entry all cost O(log n) without leaving the process. Bus keeps a
// bounded history per channel and hands every publication to each
// subscriber's buffered queue.
//
// Concurrency contract: every method of Boards and Bus is safe for concurrent
// use. Boards finds a board in a sync.Map (lock-free lookups) and holds one
// sync.RWMutex per board, so reads of a board run in parallel and writes to
// different boards do not contend; Apply takes one more short lock for its
// dedup bookkeeping. An Apply touching several boards is not atomic across
// them: a reader may see some of its deltas before the others, as with Redis.
// Bus.Publish never blocks on a subscriber: each subscriber has one goroutine
// that calls its handler in publish order, fed by a bounded queue; when the
// queue is full the message is dropped for that subscriber and counted (see
// Bus.Dropped), the same at-most-once delivery that Redis pub/sub gives.
package memory
