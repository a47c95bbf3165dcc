// Package enginetest is the contract suite every engine.Boards and
// engine.Bus implementation passes: engine/memory and engine/redis run the
// same subtests, so the two backends cannot drift apart.
//
// The suites call t.Run for each subtest and ask the constructor for a fresh,
// empty backend in every subtest; constructors register their own cleanup
// with t.Cleanup. Subtests are sequential, but several of them run goroutines
// against one backend, so the suites are meant to run under -race.
package enginetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"

	"podium/engine"
	"podium/game"
)

// Board keys used by the suite, in the real "metric:period:instance:scope"
// form.
const (
	boardA = "revenue:month:2026-11:company"
	boardB = "deals:month:2026-11:company"
	boardC = "points:week:2026-W48:team-3"
)

// TestBoards runs the engine.Boards contract against the stores newBoards
// returns; each call must return a new, empty store.
//
// Beyond the words of engine.Boards the suite pins what both backends do: a
// score that returns to 0 stays on the board with 0, a zero delta puts an
// absent rep on the board with 0, an empty event id is an error, Top and
// Around return an empty non-nil slice rather than nil, and Replace keeps the
// applied event ids (a rebuilt board already counts them).
func TestBoards(t *testing.T, newBoards func(t *testing.T) engine.Boards) {
	t.Run("TopCompetitionRanks", func(t *testing.T) { testTopCompetitionRanks(t, newBoards(t)) })
	t.Run("TiesInRepIDOrder", func(t *testing.T) { testTiesInRepIDOrder(t, newBoards(t)) })
	t.Run("NegativeDeltas", func(t *testing.T) { testNegativeDeltas(t, newBoards(t)) })
	t.Run("ZeroStaysOnBoard", func(t *testing.T) { testZeroStaysOnBoard(t, newBoards(t)) })
	t.Run("IdempotentApply", func(t *testing.T) { testIdempotentApply(t, newBoards(t)) })
	t.Run("ApplyBatch", func(t *testing.T) { testApplyBatch(t, newBoards(t)) })
	t.Run("Standing", func(t *testing.T) { testStanding(t, newBoards(t)) })
	t.Run("Around", func(t *testing.T) { testAround(t, newBoards(t)) })
	t.Run("Replace", func(t *testing.T) { testReplace(t, newBoards(t)) })
	t.Run("Boards", func(t *testing.T) { testBoardsList(t, newBoards(t)) })
	t.Run("Epoch", func(t *testing.T) { testEpoch(t, newBoards(t)) })
	t.Run("Ping", func(t *testing.T) {
		if err := newBoards(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("ManyReps", func(t *testing.T) { testManyReps(t, newBoards(t)) })
	t.Run("ConcurrentApply", func(t *testing.T) { testConcurrentApply(t, newBoards(t)) })
}

func d(board string, rep, delta int64) game.BoardDelta {
	return game.BoardDelta{Board: board, RepID: rep, Delta: delta}
}

func st(rep, score int64, rank int) game.Standing {
	return game.Standing{RepID: rep, Score: score, Rank: rank}
}

func apply(t *testing.T, b engine.Boards, eventID string, deltas ...game.BoardDelta) {
	t.Helper()
	if err := b.Apply(t.Context(), eventID, deltas); err != nil {
		t.Fatalf("Apply(%s): %v", eventID, err)
	}
}

func top(t *testing.T, b engine.Boards, board string, n int) []game.Standing {
	t.Helper()
	got, err := b.Top(t.Context(), board, n)
	if err != nil {
		t.Fatalf("Top(%s, %d): %v", board, n, err)
	}
	return got
}

func around(t *testing.T, b engine.Boards, board string, rep int64, radius int) []game.Standing {
	t.Helper()
	got, err := b.Around(t.Context(), board, rep, radius)
	if err != nil {
		t.Fatalf("Around(%s, %d, %d): %v", board, rep, radius, err)
	}
	return got
}

func standing(t *testing.T, b engine.Boards, board string, rep int64) (game.Standing, bool) {
	t.Helper()
	s, ok, err := b.Standing(t.Context(), board, rep)
	if err != nil {
		t.Fatalf("Standing(%s, %d): %v", board, rep, err)
	}
	return s, ok
}

func equalStandings(t *testing.T, what string, got, want []game.Standing) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil, want a non-nil slice", what)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// model is the naive reference: a map per board, sorted with game.RankLess
// on every read.
type model map[string]map[int64]int64

func (m model) add(ds ...game.BoardDelta) {
	for _, x := range ds {
		if m[x.Board] == nil {
			m[x.Board] = make(map[int64]int64)
		}
		m[x.Board][x.RepID] += x.Delta
	}
}

// standings returns a board in game.RankLess order with competition ranks.
func (m model) standings(board string) []game.Standing {
	out := make([]game.Standing, 0, len(m[board]))
	for rep, score := range m[board] {
		out = append(out, game.Standing{RepID: rep, Score: score})
	}
	sort.Slice(out, func(i, j int) bool { return game.RankLess(out[i], out[j]) })
	for i := range out {
		if i > 0 && out[i].Score == out[i-1].Score {
			out[i].Rank = out[i-1].Rank
		} else {
			out[i].Rank = i + 1
		}
	}
	return out
}

func (m model) around(board string, rep int64, radius int) []game.Standing {
	all := m.standings(board)
	for i, s := range all {
		if s.RepID == rep {
			return all[max(i-radius, 0):min(i+radius+1, len(all))]
		}
	}
	return []game.Standing{}
}

func testTopCompetitionRanks(t *testing.T, b engine.Boards) {
	apply(t, b, "e1", d(boardA, 3, 500), d(boardA, 7, 300))
	apply(t, b, "e2", d(boardA, 2, 300), d(boardA, 9, 100))
	want := []game.Standing{st(3, 500, 1), st(2, 300, 2), st(7, 300, 2), st(9, 100, 4)}
	for n := 1; n <= 4; n++ {
		equalStandings(t, fmt.Sprintf("Top(%d)", n), top(t, b, boardA, n), want[:n])
	}
	equalStandings(t, "Top(10)", top(t, b, boardA, 10), want)
	equalStandings(t, "Top(0)", top(t, b, boardA, 0), []game.Standing{})
	equalStandings(t, "Top(-1)", top(t, b, boardA, -1), []game.Standing{})
	equalStandings(t, "Top of an unknown board", top(t, b, "revenue:day:2026-11-28:company", 10), []game.Standing{})
}

// testTiesInRepIDOrder uses ids whose decimal strings sort differently from
// their values ("10" < "9"), the order Redis gives ties by itself.
func testTiesInRepIDOrder(t *testing.T, b engine.Boards) {
	var ds []game.BoardDelta
	for _, rep := range []int64{10, 9, 100, 2, 1000, 21} {
		ds = append(ds, d(boardA, rep, 50))
	}
	ds = append(ds, d(boardA, 5, 60), d(boardA, 1, 40))
	apply(t, b, "e1", ds...)
	want := []game.Standing{
		st(5, 60, 1),
		st(2, 50, 2), st(9, 50, 2), st(10, 50, 2), st(21, 50, 2), st(100, 50, 2), st(1000, 50, 2),
		st(1, 40, 8),
	}
	for n := 1; n <= len(want)+1; n++ {
		equalStandings(t, fmt.Sprintf("Top(%d)", n), top(t, b, boardA, n), want[:min(n, len(want))])
	}
	// Pages cut the tie group on both sides.
	equalStandings(t, "Around(21, 1)", around(t, b, boardA, 21, 1), want[3:6])
	equalStandings(t, "Around(10, 0)", around(t, b, boardA, 10, 0), want[3:4])
	equalStandings(t, "Around(1000, 1)", around(t, b, boardA, 1000, 1), want[5:8])
	equalStandings(t, "Around(2, 1)", around(t, b, boardA, 2, 1), want[0:3])
	for _, w := range want {
		if s, ok := standing(t, b, boardA, w.RepID); !ok || s != w {
			t.Errorf("Standing(%d) = %v, %v; want %v", w.RepID, s, ok, w)
		}
	}
}

func testNegativeDeltas(t *testing.T, b engine.Boards) {
	apply(t, b, "e1", d(boardA, 1, 100))
	apply(t, b, "e2", d(boardA, 1, -30), d(boardA, 2, -50))
	apply(t, b, "e3", d(boardA, 3, 10))
	equalStandings(t, "Top", top(t, b, boardA, 10), []game.Standing{st(1, 70, 1), st(3, 10, 2), st(2, -50, 3)})
	apply(t, b, "e4", d(boardA, 1, -200))
	equalStandings(t, "Top after going negative", top(t, b, boardA, 10), []game.Standing{st(3, 10, 1), st(2, -50, 2), st(1, -130, 3)})
}

// testZeroStaysOnBoard pins the choice both stores make: a rep whose score
// returns to 0 stays on the board with 0 (a clawback does not make a rep
// vanish), and a zero delta puts an absent rep on the board with 0.
func testZeroStaysOnBoard(t *testing.T, b engine.Boards) {
	apply(t, b, "e1", d(boardA, 1, 50), d(boardA, 2, 20))
	apply(t, b, "e2", d(boardA, 1, -50))
	if s, ok := standing(t, b, boardA, 1); !ok || s != st(1, 0, 2) {
		t.Errorf("Standing(1) = %v, %v; want %v, true", s, ok, st(1, 0, 2))
	}
	apply(t, b, "e3", d(boardA, 4, 0))
	equalStandings(t, "Top", top(t, b, boardA, 10), []game.Standing{st(2, 20, 1), st(1, 0, 2), st(4, 0, 2)})
}

func testIdempotentApply(t *testing.T, b engine.Boards) {
	ev := []game.BoardDelta{d(boardA, 1, 10), d(boardB, 1, 1), d(boardA, 2, 7)}
	apply(t, b, "deal:42:v1", ev...)
	apply(t, b, "deal:42:v1", ev...)
	equalStandings(t, "board A after a duplicate", top(t, b, boardA, 10), []game.Standing{st(1, 10, 1), st(2, 7, 2)})
	equalStandings(t, "board B after a duplicate", top(t, b, boardB, 10), []game.Standing{st(1, 1, 1)})
	apply(t, b, "deal:43:v1", ev...)
	apply(t, b, "deal:42:v1", ev...)
	apply(t, b, "deal:43:v1", ev...)
	equalStandings(t, "board A after a second event", top(t, b, boardA, 10), []game.Standing{st(1, 20, 1), st(2, 14, 2)})
	equalStandings(t, "board B after a second event", top(t, b, boardB, 10), []game.Standing{st(1, 2, 1)})
	if err := b.Apply(t.Context(), "", ev); err == nil {
		t.Error("Apply with an empty event id: got nil error")
	}
	if err := b.Apply(t.Context(), "nothing", nil); err != nil {
		t.Errorf("Apply with no deltas: %v", err)
	}
}

func testApplyBatch(t *testing.T, b engine.Boards) {
	batch := []engine.EventDeltas{
		{ID: "e1", Deltas: []game.BoardDelta{d(boardA, 1, 10), d(boardB, 1, 1)}},
		{ID: "e2", Deltas: []game.BoardDelta{d(boardA, 2, 7)}},
		{ID: "e3"}, // no deltas
		{ID: "e1", Deltas: []game.BoardDelta{d(boardA, 1, 10), d(boardB, 1, 1)}}, // repeated in the batch
	}
	if err := b.ApplyBatch(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	// The whole batch again, as the relay does after a failure: nothing changes.
	if err := b.ApplyBatch(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	apply(t, b, "e2", d(boardA, 2, 7)) // and one of its events alone
	equalStandings(t, "board A after a batch", top(t, b, boardA, 10), []game.Standing{st(1, 10, 1), st(2, 7, 2)})
	equalStandings(t, "board B after a batch", top(t, b, boardB, 10), []game.Standing{st(1, 1, 1)})
	if err := b.ApplyBatch(t.Context(), nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
	if err := b.ApplyBatch(t.Context(), []engine.EventDeltas{{ID: "", Deltas: []game.BoardDelta{d(boardA, 1, 1)}}}); err == nil {
		t.Error("a batch with an empty event id: got nil error")
	}
}

func testStanding(t *testing.T, b engine.Boards) {
	apply(t, b, "e1", d(boardA, 4, 90), d(boardA, 8, 70), d(boardA, 6, 70), d(boardA, 1, 10), d(boardA, 3, 95))
	for _, w := range []game.Standing{st(3, 95, 1), st(4, 90, 2), st(6, 70, 3), st(8, 70, 3), st(1, 10, 5)} {
		s, ok := standing(t, b, boardA, w.RepID)
		if !ok || s != w {
			t.Errorf("Standing(%d) = %v, %v; want %v, true", w.RepID, s, ok, w)
		}
	}
	if s, ok := standing(t, b, boardA, 99); ok {
		t.Errorf("Standing of an absent rep = %v, true; want ok false", s)
	}
	if s, ok := standing(t, b, boardB, 4); ok {
		t.Errorf("Standing on an unknown board = %v, true; want ok false", s)
	}
}

func testAround(t *testing.T, b engine.Boards) {
	m := model{}
	var ds []game.BoardDelta
	for rep := int64(1); rep <= 10; rep++ {
		ds = append(ds, d(boardA, rep, rep*10))
	}
	apply(t, b, "e1", ds...)
	m.add(ds...)
	for _, c := range []struct {
		rep    int64
		radius int
		n      int
	}{
		{10, 2, 3}, // first
		{1, 2, 3},  // last
		{5, 2, 5},  // middle
		{5, 0, 1},
		{9, 1, 3},
		{2, 1, 3},
		{5, 50, 10},
		{5, -1, 1},
	} {
		got := around(t, b, boardA, c.rep, c.radius)
		equalStandings(t, fmt.Sprintf("Around(%d, %d)", c.rep, c.radius), got, m.around(boardA, c.rep, max(c.radius, 0)))
		if len(got) != c.n {
			t.Errorf("Around(%d, %d) has %d standings, want %d", c.rep, c.radius, len(got), c.n)
		}
	}
	equalStandings(t, "Around an absent rep", around(t, b, boardA, 99, 3), []game.Standing{})
	equalStandings(t, "Around on an unknown board", around(t, b, boardB, 1, 3), []game.Standing{})
}

func testReplace(t *testing.T, b engine.Boards) {
	ctx := t.Context()
	apply(t, b, "e1", d(boardA, 1, 100), d(boardA, 3, 50), d(boardA, 4, 10))
	if err := b.Replace(ctx, boardA, map[int64]int64{1: 5, 2: 7, 9: 0}); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	equalStandings(t, "Top after Replace", top(t, b, boardA, 10), []game.Standing{st(2, 7, 1), st(1, 5, 2), st(9, 0, 3)})
	if s, ok := standing(t, b, boardA, 3); ok {
		t.Errorf("Standing of a rep removed by Replace = %v, true", s)
	}
	// Replace keeps the applied ids: the rebuilt values already count e1.
	apply(t, b, "e1", d(boardA, 1, 100))
	apply(t, b, "e2", d(boardA, 1, 3))
	equalStandings(t, "Top after Apply", top(t, b, boardA, 10), []game.Standing{st(1, 8, 1), st(2, 7, 2), st(9, 0, 3)})

	// Replace creates a board that did not exist.
	if err := b.Replace(ctx, boardB, map[int64]int64{5: 1}); err != nil {
		t.Fatalf("Replace of a new board: %v", err)
	}
	equalStandings(t, "Top of a new board", top(t, b, boardB, 10), []game.Standing{st(5, 1, 1)})

	// An empty map deletes the board.
	if err := b.Replace(ctx, boardA, map[int64]int64{}); err != nil {
		t.Fatalf("Replace with an empty map: %v", err)
	}
	equalStandings(t, "Top after an empty Replace", top(t, b, boardA, 10), []game.Standing{})
	keys, err := b.Boards(ctx)
	if err != nil {
		t.Fatalf("Boards: %v", err)
	}
	if slices.Contains(keys, boardA) {
		t.Errorf("Boards after deleting %s = %v", boardA, keys)
	}
	if err := b.Replace(ctx, "deals:day:2026-11-28:company", nil); err != nil {
		t.Errorf("Replace(nil) of an unknown board: %v", err)
	}

	// A large Replace, then Apply on top of it.
	big := make(map[int64]int64, 2500)
	m := model{}
	for rep := int64(1); rep <= 2500; rep++ {
		big[rep] = rep % 97
		m.add(d(boardC, rep, rep%97))
	}
	if err := b.Replace(ctx, boardC, big); err != nil {
		t.Fatalf("Replace of 2500 reps: %v", err)
	}
	apply(t, b, "e3", d(boardC, 42, 1000))
	m.add(d(boardC, 42, 1000))
	equalStandings(t, "Top after a large Replace", top(t, b, boardC, 2600), m.standings(boardC))
}

func testBoardsList(t *testing.T, b engine.Boards) {
	ctx := t.Context()
	keys, err := b.Boards(ctx)
	if err != nil {
		t.Fatalf("Boards: %v", err)
	}
	if len(keys) != 0 {
		t.Fatalf("Boards of an empty store = %v", keys)
	}
	apply(t, b, "e1", d(boardA, 1, 1), d(boardB, 1, 1), d(boardC, 2, 5))
	apply(t, b, "e2", d(boardA, 2, 1))
	keys, err = b.Boards(ctx)
	if err != nil {
		t.Fatalf("Boards: %v", err)
	}
	slices.Sort(keys)
	want := []string{boardA, boardB, boardC}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("Boards = %v, want %v", keys, want)
	}
}

func testEpoch(t *testing.T, b engine.Boards) {
	ctx := t.Context()
	check := func(want string) {
		t.Helper()
		got, err := b.Epoch(ctx)
		if err != nil {
			t.Fatalf("Epoch: %v", err)
		}
		if got != want {
			t.Errorf("Epoch = %q, want %q", got, want)
		}
	}
	check("")
	if err := b.SetEpoch(ctx, "2026-11-28T10:00:00Z/1"); err != nil {
		t.Fatalf("SetEpoch: %v", err)
	}
	check("2026-11-28T10:00:00Z/1")
	if err := b.SetEpoch(ctx, "e2"); err != nil {
		t.Fatalf("SetEpoch: %v", err)
	}
	check("e2")
	// Boards do not touch the epoch.
	apply(t, b, "e1", d(boardA, 1, 1))
	if err := b.Replace(ctx, boardA, nil); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	check("e2")
}

// testManyReps checks 2,000 random updates on two boards against the model,
// with scores in a narrow range so that ties and negative scores are common.
func testManyReps(t *testing.T, b engine.Boards) {
	rng := rand.New(rand.NewPCG(7, 11))
	m := model{}
	boards := []string{boardA, boardB}
	var applied [][]game.BoardDelta
	check := func(step int) {
		t.Helper()
		for _, board := range boards {
			want := m.standings(board)
			n := 1 + rng.IntN(len(want)+5)
			equalStandings(t, fmt.Sprintf("step %d: Top(%s, %d)", step, board, n), top(t, b, board, n), want[:min(n, len(want))])
		}
	}
	for i := range 2000 {
		ds := []game.BoardDelta{d(boards[rng.IntN(2)], 1+rng.Int64N(300), rng.Int64N(71)-20)}
		if rng.IntN(4) == 0 {
			ds = append(ds, d(boards[rng.IntN(2)], 1+rng.Int64N(300), rng.Int64N(71)-20))
		}
		if len(ds) == 2 && ds[0].Board == ds[1].Board && ds[0].RepID == ds[1].RepID {
			ds = ds[:1] // the engine sums increments per rep and board
		}
		apply(t, b, fmt.Sprintf("ev-%d", i), ds...)
		m.add(ds...)
		applied = append(applied, ds)
		if i%10 == 9 { // a relay retry of a recent event changes nothing
			j := i - rng.IntN(10)
			apply(t, b, fmt.Sprintf("ev-%d", j), applied[j]...)
		}
		if i%250 == 249 {
			check(i)
		}
	}
	for _, board := range boards {
		want := m.standings(board)
		equalStandings(t, "Top(all) of "+board, top(t, b, board, len(want)+10), want)
		for _, w := range want {
			if s, ok := standing(t, b, board, w.RepID); !ok || s != w {
				t.Errorf("Standing(%s, %d) = %v, %v; want %v", board, w.RepID, s, ok, w)
			}
		}
		for range 40 {
			w := want[rng.IntN(len(want))]
			r := rng.IntN(6)
			equalStandings(t, fmt.Sprintf("Around(%s, %d, %d)", board, w.RepID, r), around(t, b, board, w.RepID, r), m.around(board, w.RepID, r))
		}
	}
}

// testConcurrentApply races writers (each with its own events, and all of
// them retrying a set of shared events) against readers.
func testConcurrentApply(t *testing.T, b engine.Boards) {
	const writers, perWriter, shared = 8, 100, 40
	sharedEvent := func(i int) []game.BoardDelta {
		return []game.BoardDelta{d(boardA, int64(100+i%5), 3), d(boardB, int64(100+i%5), 1)}
	}
	ctx := t.Context()
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				ds := []game.BoardDelta{d(boardA, int64(1+w*10+i%10), int64(i%7-2))}
				if err := b.Apply(ctx, fmt.Sprintf("w%d-%d", w, i), ds); err != nil {
					t.Errorf("Apply: %v", err)
					return
				}
				if i < shared {
					if err := b.Apply(ctx, fmt.Sprintf("shared-%d", i), sharedEvent(i)); err != nil {
						t.Errorf("Apply: %v", err)
						return
					}
				}
			}
		})
	}
	var readers sync.WaitGroup
	for r := range 3 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				var err error
				switch r {
				case 0:
					_, err = b.Top(ctx, boardA, 10)
				case 1:
					_, _, err = b.Standing(ctx, boardA, 101)
				case 2:
					_, err = b.Around(ctx, boardB, 102, 2)
				}
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()

	m := model{}
	for w := range writers {
		for i := range perWriter {
			m.add(d(boardA, int64(1+w*10+i%10), int64(i%7-2)))
		}
	}
	for i := range shared {
		m.add(sharedEvent(i)...)
	}
	for _, board := range []string{boardA, boardB} {
		want := m.standings(board)
		equalStandings(t, "Top(all) of "+board, top(t, b, board, len(want)+1), want)
	}
}
