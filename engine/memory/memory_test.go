package memory_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"podium/engine"
	"podium/engine/enginetest"
	"podium/engine/memory"
	"podium/game"
)

func TestBoards(t *testing.T) {
	enginetest.TestBoards(t, func(t *testing.T) engine.Boards { return memory.NewBoards() })
}

func TestBus(t *testing.T) {
	enginetest.TestBus(t, func(t *testing.T) (engine.Bus, engine.Bus) {
		b := memory.NewBus(enginetest.BusHistorySize)
		return b, b
	})
}

// clock is a settable time source, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func score(t *testing.T, b engine.Boards) int64 {
	t.Helper()
	s, _, err := b.Standing(t.Context(), "points:all:all:company", 1)
	if err != nil {
		t.Fatal(err)
	}
	return s.Score
}

func TestApplyForgetsAfterDedupWindow(t *testing.T) {
	c := newClock()
	b := memory.NewBoards(memory.WithClock(c.now))
	ds := []game.BoardDelta{{Board: "points:all:all:company", RepID: 1, Delta: 5}}
	apply := func(id string) {
		t.Helper()
		if err := b.Apply(t.Context(), id, ds); err != nil {
			t.Fatal(err)
		}
	}
	apply("e1")
	c.advance(engine.DedupWindow - time.Second)
	apply("e1")
	if got := score(t, b); got != 5 {
		t.Fatalf("score after a retry inside the window = %d, want 5", got)
	}
	// Many other events age out alongside e1 and exercise the queue's
	// compaction.
	for i := range 5000 {
		apply("other-" + strconv.Itoa(i))
		c.advance(time.Millisecond)
	}
	c.advance(2 * time.Second)
	apply("e1")
	if got := score(t, b); got != 5+5+5000*5 {
		t.Fatalf("score after the window = %d, want %d", got, 5+5+5000*5)
	}
	apply("e1")
	if got := score(t, b); got != 5+5+5000*5 {
		t.Fatalf("score after re-recording e1 = %d, want %d", got, 5+5+5000*5)
	}
}

func TestBusDropsForSlowSubscriber(t *testing.T) {
	b := memory.NewBus(4, memory.WithSubscriberBuffer(2))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	release := make(chan struct{})
	var got atomic.Int64
	if err := b.Subscribe(ctx, func(engine.Message) {
		<-release
		got.Add(1)
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			if _, err := b.Publish(ctx, "board:x", []byte("x")); err != nil {
				t.Error(err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a slow subscriber")
	}
	close(release)
	// One message is in the handler, two wait in the queue, the rest drop.
	deadline := time.Now().Add(5 * time.Second)
	for got.Load()+int64(b.Dropped()) < 10 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if d := b.Dropped(); d < 7 || d > 8 || got.Load()+int64(d) != 10 {
		t.Errorf("delivered %d and dropped %d of 10, want 2 or 3 delivered and the rest dropped", got.Load(), d)
	}
	// History is unaffected by drops.
	msgs, _, complete, err := b.History(ctx, "board:x", 6)
	if err != nil || !complete || len(msgs) != 4 {
		t.Errorf("History(6) = %d messages, complete %v, err %v; want 4, true, nil", len(msgs), complete, err)
	}
}

func TestBusWithoutHistory(t *testing.T) {
	b := memory.NewBus(0)
	ctx := t.Context()
	for range 3 {
		if _, err := b.Publish(ctx, "c", nil); err != nil {
			t.Fatal(err)
		}
	}
	if msgs, _, complete, _ := b.History(ctx, "c", 3); !complete || len(msgs) != 0 {
		t.Errorf("History(3) = %d, %v; want 0, true", len(msgs), complete)
	}
	if _, _, complete, _ := b.History(ctx, "c", 2); complete {
		t.Error("History(2) with no history kept: complete = true")
	}
}

const benchBoard = "revenue:month:2026-11:company"

// benchBoards returns boards holding one board of n reps with random scores,
// and a clock that the benchmark moves forward by step per operation.
func benchBoards(b *testing.B, n int) (*memory.Boards, func()) {
	b.Helper()
	var now time.Time
	boards := memory.NewBoards(memory.WithClock(func() time.Time { return now }))
	rng := rand.New(rand.NewPCG(1, 2))
	scores := make(map[int64]int64, n)
	for rep := int64(1); rep <= int64(n); rep++ {
		scores[rep] = rng.Int64N(1_000_000)
	}
	if err := boards.Replace(b.Context(), benchBoard, scores); err != nil {
		b.Fatal(err)
	}
	// 1<<16 event ids are reused round-robin; the clock moves so that an id
	// is two windows old when it comes back, so the dedup set holds about
	// 1<<15 ids, as a node applying ~55 events a second would.
	step := engine.DedupWindow / (1 << 15)
	return boards, func() { now = now.Add(step) }
}

func eventIDs() []string {
	ids := make([]string, 1<<16)
	for i := range ids {
		ids[i] = "deal:crm:" + strconv.Itoa(i) + ":v1"
	}
	return ids
}

// BenchmarkMemoryBoardUpdateRank is the engine's path: Apply of one delta
// (with dedup bookkeeping) then Standing, on a board of 10,000 reps.
func BenchmarkMemoryBoardUpdateRank(b *testing.B) {
	boards, tick := benchBoards(b, 10_000)
	ids := eventIDs()
	ctx := b.Context()
	delta := []game.BoardDelta{{Board: benchBoard}}
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tick()
		rep := 1 + rng.Int64N(10_000)
		delta[0].RepID, delta[0].Delta = rep, rng.Int64N(2_000)-500
		if err := boards.Apply(ctx, ids[i&(1<<16-1)], delta); err != nil {
			b.Fatal(err)
		}
		if _, ok, err := boards.Standing(ctx, benchBoard, rep); !ok || err != nil {
			b.Fatal("standing", ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates+ranks/s")
}

// BenchmarkMemoryBoardIncrRank is the raw structure: Incr (no dedup) then
// Standing, on a board of 10,000 reps.
func BenchmarkMemoryBoardIncrRank(b *testing.B) {
	boards, _ := benchBoards(b, 10_000)
	ctx := b.Context()
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep := 1 + rng.Int64N(10_000)
		boards.Incr(benchBoard, rep, rng.Int64N(2_000)-500)
		if _, ok, err := boards.Standing(ctx, benchBoard, rep); !ok || err != nil {
			b.Fatal("standing", ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates+ranks/s")
}

// BenchmarkMemoryBoardUpdateRankParallel runs the engine's path from every
// CPU on one board, the worst case for the board lock.
func BenchmarkMemoryBoardUpdateRankParallel(b *testing.B) {
	var now atomic.Int64
	boards := memory.NewBoards(memory.WithClock(func() time.Time {
		return time.Unix(0, now.Add(int64(engine.DedupWindow/(1<<15))))
	}))
	scores := make(map[int64]int64, 10_000)
	for rep := int64(1); rep <= 10_000; rep++ {
		scores[rep] = rep * 7 % 10_007
	}
	if err := boards.Replace(b.Context(), benchBoard, scores); err != nil {
		b.Fatal(err)
	}
	ids := eventIDs()
	var seq atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(uint64(seq.Add(1)), 5))
		delta := []game.BoardDelta{{Board: benchBoard}}
		for pb.Next() {
			rep := 1 + rng.Int64N(10_000)
			delta[0].RepID, delta[0].Delta = rep, rng.Int64N(2_000)-500
			if err := boards.Apply(ctx, ids[seq.Add(1)&(1<<16-1)], delta); err != nil {
				b.Fatal(err)
			}
			if _, _, err := boards.Standing(ctx, benchBoard, rep); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMemoryBoardTop10 reads the first ten of a board of 10,000 reps.
func BenchmarkMemoryBoardTop10(b *testing.B) {
	boards, _ := benchBoards(b, 10_000)
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if top, err := boards.Top(ctx, benchBoard, 10); err != nil || len(top) != 10 {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryBusPublish publishes to one subscriber that keeps up.
func BenchmarkMemoryBusPublish(b *testing.B) {
	bus := memory.NewBus(256)
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	var got atomic.Int64
	if err := bus.Subscribe(ctx, func(engine.Message) { got.Add(1) }); err != nil {
		b.Fatal(err)
	}
	data := []byte(`{"rep_id":7,"score":1250}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := bus.Publish(ctx, "board:revenue:month:2026-11:company", data); err != nil {
			b.Fatal(err)
		}
	}
}
