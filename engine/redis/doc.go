// Package redis implements engine.Boards and engine.Bus on Redis, for the
// production running mode where several Podium nodes share one Redis (or a
// Redis Cluster).
//
// Boards stores one sorted set per board, member = rep id in decimal, score =
// the integer board value. Redis keeps scores as IEEE doubles, so scores are
// exact only while their magnitude stays below 2^53 (about 9e15 minor units);
// Podium's amounts are capped far below that (game.MaxAmount). Every key of a
// board carries the board key as a hash tag, "<prefix>{<board>}", so a board,
// its dedup set and its temporary rebuild key live in one cluster slot and one
// Lua script or MULTI may touch them together. Bus keys are tagged per channel
// the same way, "<prefix>{ch:<channel>}:off|hist|epoch"; every node
// subscribes to one pub/sub channel, "<prefix>bus".
//
// A Redis that evicts keys silently corrupts boards and offsets; run it with
// maxmemory-policy noeviction and call CheckNoEviction at start-up.
//
// Concurrency contract: Boards and Bus hold no mutable state of their own
// besides counters and the go-redis client, and every method is safe for
// concurrent use. Writes that must not interleave (Apply's dedup check and
// increments, Publish's offset, history and publish) run inside one Lua
// script, which Redis executes atomically. Reads that take two round trips
// (Top or Around across a tie at the edge of the page) may observe a write
// that lands between them; they never fail because of it. A Subscribe handler
// is called from one goroutine per subscription, never concurrently, in the
// order Redis delivered the messages (publish order per channel).
package redis
