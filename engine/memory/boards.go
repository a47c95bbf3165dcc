package memory

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"podium/engine"
	"podium/game"
)

var _ engine.Boards = (*Boards)(nil)

// Boards is an in-process engine.Boards. The zero value is not usable; call
// NewBoards.
type Boards struct {
	now func() time.Time

	// boards maps a board key to its *board. A sync.Map because keys are
	// written once and read on every operation: loads take no lock and
	// share no cache line between readers on different cores.
	boards sync.Map

	dedup dedup

	epochMu sync.Mutex
	epoch   string
}

// board is one leaderboard: scores is the authority on membership and the
// tree orders the members. A board deleted by Replace is marked dead under its
// lock, so a writer that looked it up just before retries on the map instead
// of writing into a board nobody will read again.
type board struct {
	mu     sync.RWMutex
	dead   bool
	scores map[int64]int64
	tree   tree
}

// BoardsOption configures NewBoards.
type BoardsOption func(*Boards)

// WithClock makes Boards read the time from now instead of time.Now. Only the
// dedup window uses the clock; tests move it to expire applied event ids.
func WithClock(now func() time.Time) BoardsOption {
	return func(b *Boards) { b.now = now }
}

// NewBoards returns an empty in-process board store whose epoch is "".
func NewBoards(opts ...BoardsOption) *Boards {
	b := &Boards{
		now:   time.Now,
		dedup: dedup{seen: make(map[string]time.Time)},
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

func newBoard() *board {
	return &board{scores: make(map[int64]int64), tree: newTree()}
}

// Apply adds every delta, once per eventID within engine.DedupWindow: a
// second Apply with an id seen in the window returns nil and changes nothing,
// whatever its deltas. A delta of zero puts an absent rep on the board with
// score 0, as ZINCRBY does in Redis.
func (b *Boards) Apply(ctx context.Context, eventID string, deltas []game.BoardDelta) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if eventID == "" {
		return errors.New("memory apply: empty event id")
	}
	if !b.dedup.add(eventID, b.now()) {
		return nil
	}
	for _, d := range deltas {
		b.incr(d.Board, d.RepID, d.Delta)
	}
	return nil
}

// ApplyBatch applies each event in turn.
func (b *Boards) ApplyBatch(ctx context.Context, events []engine.EventDeltas) error {
	for _, ev := range events {
		if err := b.Apply(ctx, ev.ID, ev.Deltas); err != nil {
			return err
		}
	}
	return nil
}

// Incr adds delta to one rep's score on one board and returns the new score,
// without the dedup bookkeeping of Apply. It is the raw board update that
// Apply performs per delta; the engine goes through Apply, and the benchmarks
// report both so the cost of deduplication is visible.
func (b *Boards) Incr(boardKey string, repID, delta int64) int64 {
	return b.incr(boardKey, repID, delta)
}

func (b *Boards) incr(boardKey string, repID, delta int64) int64 {
	for {
		bd := b.getOrCreate(boardKey)
		bd.mu.Lock()
		if bd.dead {
			bd.mu.Unlock()
			continue
		}
		score := bd.incrLocked(repID, delta)
		bd.mu.Unlock()
		return score
	}
}

func (bd *board) incrLocked(repID, delta int64) int64 {
	old, ok := bd.scores[repID]
	score := old + delta
	if ok {
		if delta == 0 {
			return score
		}
		bd.tree.remove(repID, old)
	}
	bd.scores[repID] = score
	bd.tree.insert(repID, score)
	return score
}

func (b *Boards) get(key string) *board {
	if v, ok := b.boards.Load(key); ok {
		return v.(*board)
	}
	return nil
}

func (b *Boards) getOrCreate(key string) *board {
	if bd := b.get(key); bd != nil {
		return bd
	}
	v, _ := b.boards.LoadOrStore(key, newBoard())
	return v.(*board)
}

// Top returns the first n standings of a board in game.RankLess order with
// competition ranks; an unknown board or n ≤ 0 gives an empty slice.
func (b *Boards) Top(ctx context.Context, boardKey string, n int) ([]game.Standing, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bd := b.get(boardKey)
	if bd == nil || n <= 0 {
		return []game.Standing{}, nil
	}
	bd.mu.RLock()
	defer bd.mu.RUnlock()
	return bd.rangeFrom(0, n), nil
}

// rangeFrom returns up to n standings from 0-based position start on. The
// caller holds bd.mu.
func (bd *board) rangeFrom(start, n int) []game.Standing {
	n = min(n, bd.tree.len()-start)
	if n <= 0 {
		return []game.Standing{}
	}
	out := make([]game.Standing, 0, n)
	pos, rank := start, 0
	bd.tree.walk(start, func(rep, score int64) bool {
		switch {
		case len(out) == 0 && start == 0:
			rank = 1
		case len(out) == 0:
			rank = 1 + bd.tree.countGreater(score)
		case score != out[len(out)-1].Score:
			// Every entry before pos has a higher score.
			rank = pos + 1
		}
		out = append(out, game.Standing{RepID: rep, Score: score, Rank: rank})
		pos++
		return len(out) < n
	})
	return out
}

// Standing returns one rep's standing; ok is false when the rep is not on the
// board.
func (b *Boards) Standing(ctx context.Context, boardKey string, repID int64) (game.Standing, bool, error) {
	if err := ctx.Err(); err != nil {
		return game.Standing{}, false, err
	}
	bd := b.get(boardKey)
	if bd == nil {
		return game.Standing{}, false, nil
	}
	bd.mu.RLock()
	defer bd.mu.RUnlock()
	score, ok := bd.scores[repID]
	if !ok {
		return game.Standing{}, false, nil
	}
	return game.Standing{RepID: repID, Score: score, Rank: 1 + bd.tree.countGreater(score)}, true, nil
}

// Around returns the standings of up to radius reps before and after repID
// in board order, the rep included; it is empty when the rep is not on the
// board. A negative radius counts as 0.
func (b *Boards) Around(ctx context.Context, boardKey string, repID int64, radius int) ([]game.Standing, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bd := b.get(boardKey)
	if bd == nil {
		return []game.Standing{}, nil
	}
	radius = max(radius, 0)
	bd.mu.RLock()
	defer bd.mu.RUnlock()
	score, ok := bd.scores[repID]
	if !ok {
		return []game.Standing{}, nil
	}
	p := bd.tree.position(repID, score)
	lo := max(p-radius, 0)
	return bd.rangeFrom(lo, p-lo+radius+1), nil
}

// Replace sets a board to exactly scores; an empty map deletes the board.
// Readers see the old board or the new one, never a mix. The new contents are
// built outside any lock and swapped into the board under its lock, so an
// Apply racing with Replace lands on the new contents, as ZINCRBY after
// RENAME does in Redis. Applied event ids are kept: an event already counted
// in scores is still ignored if re-applied.
func (b *Boards) Replace(ctx context.Context, boardKey string, scores map[int64]int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(scores) == 0 {
		if bd := b.get(boardKey); bd != nil {
			bd.mu.Lock()
			bd.dead = true
			// Readers that looked the board up before the delete see it empty.
			bd.scores, bd.tree = map[int64]int64{}, newTree()
			b.boards.CompareAndDelete(boardKey, bd)
			bd.mu.Unlock()
		}
		return nil
	}
	fresh := newBoard()
	fresh.tree.nodes = slices.Grow(fresh.tree.nodes, len(scores))
	for rep, score := range scores {
		fresh.scores[rep] = score
		fresh.tree.insert(rep, score)
	}
	for {
		bd := b.getOrCreate(boardKey)
		bd.mu.Lock()
		if bd.dead {
			bd.mu.Unlock()
			continue
		}
		bd.scores, bd.tree = fresh.scores, fresh.tree
		bd.mu.Unlock()
		return nil
	}
}

// Boards lists the keys of every board that exists, sorted.
func (b *Boards) Boards(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var keys []string
	b.boards.Range(func(k, _ any) bool {
		keys = append(keys, k.(string))
		return true
	})
	slices.Sort(keys)
	return keys, nil
}

// Epoch returns the epoch marker, "" until SetEpoch is called: an in-process
// store always starts empty.
func (b *Boards) Epoch(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	b.epochMu.Lock()
	defer b.epochMu.Unlock()
	return b.epoch, nil
}

// SetEpoch stores the epoch marker.
func (b *Boards) SetEpoch(ctx context.Context, epoch string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.epochMu.Lock()
	defer b.epochMu.Unlock()
	b.epoch = epoch
	return nil
}

// Ping always succeeds: the store is in the process.
func (b *Boards) Ping(ctx context.Context) error { return ctx.Err() }

// dedup remembers applied event ids for engine.DedupWindow. Ids are kept in
// a map for lookup and in a FIFO in arrival order, so pruning pops expired ids
// off the front: amortised O(1) per Apply, no scan of the map.
type dedup struct {
	mu    sync.Mutex
	seen  map[string]time.Time
	queue []seenID
	head  int
}

type seenID struct {
	id string
	at time.Time
}

// add records id at now and reports whether it was new in the window.
func (d *dedup) add(id string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	cutoff := now.Add(-engine.DedupWindow)
	for d.head < len(d.queue) && d.queue[d.head].at.Before(cutoff) {
		e := d.queue[d.head]
		// The id may have been recorded again after expiring once; only the
		// entry that matches the map's time removes it.
		if at, ok := d.seen[e.id]; ok && at.Equal(e.at) {
			delete(d.seen, e.id)
		}
		d.queue[d.head] = seenID{}
		d.head++
	}
	if d.head > 1024 && d.head*2 > len(d.queue) {
		n := copy(d.queue, d.queue[d.head:])
		clear(d.queue[n:])
		d.queue = d.queue[:n]
		d.head = 0
	}
	if at, ok := d.seen[id]; ok && !at.Before(cutoff) {
		return false
	}
	d.seen[id] = now
	d.queue = append(d.queue, seenID{id: id, at: now})
	return true
}
