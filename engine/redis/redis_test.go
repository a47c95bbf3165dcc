package redis_test

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"podium/engine"
	"podium/engine/enginetest"
	"podium/engine/redis"
	"podium/game"
	"podium/internal/testsvc"
)

// layouts are the two ways Boards applies an event: one script per event
// (a single Redis) and one per board (what a Redis Cluster needs).
var layouts = []struct {
	name    string
	cluster bool
}{{"single", false}, {"cluster", true}}

func TestBoards(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			enginetest.TestBoards(t, func(t *testing.T) engine.Boards {
				c, prefix := testsvc.Redis(t)
				return redis.NewBoards(c, prefix, redis.WithClusterLayout(l.cluster))
			})
		})
	}
}

func TestBus(t *testing.T) {
	enginetest.TestBus(t, func(t *testing.T) (engine.Bus, engine.Bus) {
		c, prefix := testsvc.Redis(t)
		// The second node gets its own client, so its subscription and
		// publishes use other connections, as on another machine.
		c2 := goredis.NewClient(c.Options())
		t.Cleanup(func() { c2.Close() })
		return redis.NewBus(c, prefix, enginetest.BusHistorySize), redis.NewBus(c2, prefix, enginetest.BusHistorySize)
	})
}

func TestCheckNoEviction(t *testing.T) {
	c, _ := testsvc.Redis(t)
	err := redis.CheckNoEviction(t.Context(), c)
	policy, cerr := c.ConfigGet(t.Context(), "maxmemory-policy").Result()
	switch {
	case cerr != nil:
		if !errors.Is(err, redis.ErrPolicyUnknown) {
			t.Errorf("CONFIG GET fails (%v) but CheckNoEviction = %v, want ErrPolicyUnknown", cerr, err)
		}
	case policy["maxmemory-policy"] == "noeviction":
		if err != nil {
			t.Errorf("CheckNoEviction on a noeviction Redis = %v", err)
		}
	default:
		if err == nil || errors.Is(err, redis.ErrPolicyUnknown) {
			t.Errorf("CheckNoEviction with policy %q = %v, want a policy error", policy["maxmemory-policy"], err)
		}
	}
}

// clock is a settable time source, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestApplyForgetsAfterDedupWindow(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) { testApplyForgets(t, l.cluster) })
	}
}

func testApplyForgets(t *testing.T, cluster bool) {
	c, prefix := testsvc.Redis(t)
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC).UnixNano())
	b := redis.NewBoards(c, prefix, redis.WithClock(clk.now), redis.WithClusterLayout(cluster))
	const board = "points:all:all:company"
	ds := []game.BoardDelta{{Board: board, RepID: 1, Delta: 5}}
	apply := func(id string) {
		t.Helper()
		if err := b.Apply(t.Context(), id, ds); err != nil {
			t.Fatal(err)
		}
	}
	score := func() int64 {
		t.Helper()
		s, _, err := b.Standing(t.Context(), board, 1)
		if err != nil {
			t.Fatal(err)
		}
		return s.Score
	}
	apply("e1")
	clk.advance(engine.DedupWindow - time.Second)
	apply("e2")
	apply("e1")
	if got := score(); got != 10 {
		t.Fatalf("score after a retry inside the window = %d, want 10", got)
	}
	clk.advance(2 * time.Second)
	apply("e1") // forgotten: applies again
	apply("e2") // still remembered
	if got := score(); got != 15 {
		t.Fatalf("score after the window = %d, want 15", got)
	}
	if !cluster {
		// One mark per event, expiring with the window.
		mark := prefix + "applied:{e1}"
		if ttl := c.PTTL(t.Context(), mark).Val(); ttl <= 0 || ttl > engine.DedupWindow {
			t.Errorf("applied mark TTL = %v, want within (0, %v]", ttl, engine.DedupWindow)
		}
		return
	}
	// Only ids inside the window stay in the dedup set, which expires.
	seen := prefix + "{" + board + "}:seen"
	if n := c.ZCard(t.Context(), seen).Val(); n != 2 {
		t.Errorf("dedup set holds %d ids, want 2 (e1 again, e2)", n)
	}
	if ttl := c.PTTL(t.Context(), seen).Val(); ttl <= 0 || ttl > engine.DedupWindow {
		t.Errorf("dedup set TTL = %v, want within (0, %v]", ttl, engine.DedupWindow)
	}
}

// TestKeyLayout pins the hash-tagged key names (Redis Cluster relies on them)
// and checks that Boards lists only boards.
func TestKeyLayout(t *testing.T) {
	c, prefix := testsvc.Redis(t)
	ctx := t.Context()
	b := redis.NewBoards(c, prefix)
	bus := redis.NewBus(c, prefix, 4)
	const board = "revenue:month:2026-11:company"
	if err := b.Apply(ctx, "e1", []game.BoardDelta{{Board: board, RepID: 12, Delta: 250}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(ctx, "board:"+board, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := b.SetEpoch(ctx, "ep"); err != nil {
		t.Fatal(err)
	}
	for key, typ := range map[string]string{
		prefix + "{" + board + "}":                "zset",
		prefix + "applied:{e1}":                   "string",
		prefix + "{ch:board:" + board + "}:off":   "string",
		prefix + "{ch:board:" + board + "}:hist":  "list",
		prefix + "{ch:board:" + board + "}:epoch": "string",
		prefix + "epoch":                          "string",
	} {
		if got := c.Type(ctx, key).Val(); got != typ {
			t.Errorf("TYPE %s = %s, want %s", key, got, typ)
		}
	}
	if score := c.ZScore(ctx, prefix+"{"+board+"}", "12").Val(); score != 250 {
		t.Errorf("ZSCORE = %v, want 250", score)
	}
	keys, err := b.Boards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != board {
		t.Errorf("Boards = %v, want [%s]", keys, board)
	}
}

func TestTopOfTieGroupLargerThanPage(t *testing.T) {
	c, prefix := testsvc.Redis(t)
	b := redis.NewBoards(c, prefix)
	const board = "activities:day:2026-11-28:company"
	scores := map[int64]int64{}
	for rep := int64(1); rep <= 1500; rep++ {
		scores[rep] = 0
	}
	scores[777] = 3
	if err := b.Replace(t.Context(), board, scores); err != nil {
		t.Fatal(err)
	}
	top, err := b.Top(t.Context(), board, 5)
	if err != nil {
		t.Fatal(err)
	}
	want := []game.Standing{{RepID: 777, Score: 3, Rank: 1}, {RepID: 1, Rank: 2}, {RepID: 2, Rank: 2}, {RepID: 3, Rank: 2}, {RepID: 4, Rank: 2}}
	if len(top) != len(want) {
		t.Fatalf("Top(5) = %v, want %v", top, want)
	}
	for i := range want {
		if top[i] != want[i] {
			t.Fatalf("Top(5) = %v, want %v", top, want)
		}
	}
	around, err := b.Around(t.Context(), board, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(around) != 3 || around[0].RepID != 999 || around[1].RepID != 1000 || around[2].RepID != 1001 || around[1].Rank != 2 {
		t.Errorf("Around(1000, 1) = %v, want reps 999, 1000, 1001 at rank 2", around)
	}
}

// dealDeltas returns the board deltas of a typical credited deal: revenue,
// deals and points for one rep of one team, 3 metrics × 6 periods × 2
// scopes = 36 boards.
func dealDeltas(tb testing.TB, rep int64) []game.BoardDelta {
	tb.Helper()
	var entries []game.LedgerEntry
	for _, m := range []struct {
		metric game.Metric
		delta  int64
	}{{game.MetricRevenue, 1_250_00}, {game.MetricDeals, 1}, {game.MetricPoints, 125}} {
		entries = append(entries, game.LedgerEntry{RepID: rep, TeamID: 3, Metric: m.metric, Day: "2026-11-28", Delta: m.delta})
	}
	ds, err := game.BoardDeltas(entries)
	if err != nil {
		tb.Fatal(err)
	}
	if len(ds) != 36 {
		tb.Fatalf("a deal touches %d boards, want 36", len(ds))
	}
	return ds
}

// BenchmarkRedisApplyDeal applies one deal event (36 board deltas, one
// pipeline of 36 EVALSHA) per iteration.
// BenchmarkRedisApplyDeal applies a deal's 36 board increments, in both
// layouts: the ratio is what one script per event saves over one per board.
// Redis's own CPU time per event is reported as redis-µs/op (from INFO
// commandstats), since the wall time is mostly the loopback round trip.
func BenchmarkRedisApplyDeal(b *testing.B) {
	for _, l := range layouts {
		b.Run(l.name, func(b *testing.B) {
			c, prefix := testsvc.Redis(b)
			boards := redis.NewBoards(c, prefix, redis.WithClusterLayout(l.cluster))
			ctx := b.Context()
			deltas := make([][]game.BoardDelta, 100)
			for i := range deltas {
				deltas[i] = dealDeltas(b, int64(i+1))
			}
			before := redisCPU(b, c)
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for i := 0; b.Loop(); i++ {
				if err := boards.Apply(ctx, "deal:crm:"+strconv.Itoa(i)+":v1", deltas[i%len(deltas)]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.StopTimer()
			b.ReportMetric((redisCPU(b, c)-before)/float64(n), "redis-µs/op")
		})
	}
}

// redisCPU returns the microseconds Redis spent in EVALSHA and EVAL so far.
func redisCPU(b *testing.B, c *goredis.Client) float64 {
	info, err := c.Info(b.Context(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var usecs float64
	for _, line := range strings.Split(info, "\n") {
		for _, cmd := range []string{"cmdstat_evalsha:", "cmdstat_eval:"} {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), cmd); ok {
				for _, f := range strings.Split(rest, ",") {
					if v, ok := strings.CutPrefix(f, "usec="); ok {
						us, _ := strconv.ParseFloat(v, 64)
						usecs += us
					}
				}
			}
		}
	}
	return usecs
}

// BenchmarkRedisTop10 reads the first ten of a board of 10,000 reps.
func BenchmarkRedisTop10(b *testing.B) {
	c, prefix := testsvc.Redis(b)
	boards := redis.NewBoards(c, prefix)
	ctx := b.Context()
	const board = "revenue:month:2026-11:company"
	rng := rand.New(rand.NewPCG(1, 2))
	scores := make(map[int64]int64, 10_000)
	for rep := int64(1); rep <= 10_000; rep++ {
		scores[rep] = rng.Int64N(1_000_000)
	}
	if err := boards.Replace(ctx, board, scores); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if top, err := boards.Top(ctx, board, 10); err != nil || len(top) != 10 {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisStanding reads one rep's rank (one EVALSHA).
func BenchmarkRedisStanding(b *testing.B) {
	c, prefix := testsvc.Redis(b)
	boards := redis.NewBoards(c, prefix)
	ctx := b.Context()
	const board = "revenue:month:2026-11:company"
	scores := make(map[int64]int64, 10_000)
	for rep := int64(1); rep <= 10_000; rep++ {
		scores[rep] = rep * 7 % 10_007
	}
	if err := boards.Replace(ctx, board, scores); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok, err := boards.Standing(ctx, board, int64(1+i%10_000)); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkRedisPublish publishes one message (one EVALSHA) per iteration.
func BenchmarkRedisPublish(b *testing.B) {
	c, prefix := testsvc.Redis(b)
	bus := redis.NewBus(c, prefix, 100)
	ctx := b.Context()
	data := []byte(`{"rep_id":7,"score":"1250.00"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := bus.Publish(ctx, "board:revenue:month:2026-11:company", data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEpochChangesWhenOffsetsAreLost deletes a channel's offset counter, as
// a flush or an eviction would: offsets restart at 1, so the epoch must
// change and a client resuming from an old offset must get complete=false.
func TestEpochChangesWhenOffsetsAreLost(t *testing.T) {
	c, prefix := testsvc.Redis(t)
	ctx := t.Context()
	bus := redis.NewBus(c, prefix, 8)
	var first string
	for range 5 {
		m, err := bus.Publish(ctx, "rep:3", []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		first = m.Epoch
	}
	if err := c.Del(ctx, prefix+"{ch:rep:3}:off").Err(); err != nil {
		t.Fatal(err)
	}
	m, err := bus.Publish(ctx, "rep:3", []byte("y"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Offset != 1 || m.Epoch == first {
		t.Errorf("Publish after losing the offset = offset %d epoch %q; want offset 1 and an epoch other than %q", m.Offset, m.Epoch, first)
	}
	msgs, epoch, complete, err := bus.History(ctx, "rep:3", 5)
	if err != nil {
		t.Fatal(err)
	}
	if complete || epoch != m.Epoch {
		t.Errorf("History(5) = %d messages, epoch %q, complete %v; want the new epoch and complete false", len(msgs), epoch, complete)
	}
	msgs, _, complete, err = bus.History(ctx, "rep:3", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !complete || len(msgs) != 1 || string(msgs[0].Data) != "y" {
		t.Errorf("History(0) = %v, complete %v; want only the new message", msgs, complete)
	}
}
