package memory

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// check verifies the treap invariants: search order, heap order on
// priorities and subtree sizes, and returns the entries in order.
func (t *tree) check(tb testing.TB) [][2]int64 {
	tb.Helper()
	var out [][2]int64
	var visit func(c int32) int32
	visit = func(c int32) int32 {
		if c == 0 {
			return 0
		}
		n := t.nodes[c]
		for _, child := range []int32{n.left, n.right} {
			if child != 0 && t.nodes[child].prio > n.prio {
				tb.Fatalf("node %d: child priority above its own", c)
			}
		}
		ls := visit(n.left)
		out = append(out, [2]int64{n.score, n.rep})
		rs := visit(n.right)
		if n.size != ls+rs+1 {
			tb.Fatalf("node %d: size %d, want %d", c, n.size, ls+rs+1)
		}
		return n.size
	}
	visit(t.root)
	for i := 1; i < len(out); i++ {
		if !keyLess(out[i-1][0], out[i-1][1], out[i][0], out[i][1]) {
			tb.Fatalf("entries %d and %d out of order: %v, %v", i-1, i, out[i-1], out[i])
		}
	}
	return out
}

func TestTreeMatchesSortedSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	tr := newTree()
	scores := map[int64]int64{}
	for step := range 20_000 {
		rep := 1 + rng.Int64N(500)
		if old, ok := scores[rep]; ok {
			tr.remove(rep, old)
			if rng.IntN(10) == 0 {
				delete(scores, rep)
				continue
			}
		}
		s := rng.Int64N(60) - 10
		scores[rep] = s
		tr.insert(rep, s)
		if step%997 != 0 {
			continue
		}
		got := tr.check(t)
		var want [][2]int64
		for r, s := range scores {
			want = append(want, [2]int64{s, r})
		}
		slices.SortFunc(want, func(a, b [2]int64) int {
			if keyLess(a[0], a[1], b[0], b[1]) {
				return -1
			}
			return 1
		})
		if !slices.Equal(got, want) {
			t.Fatalf("step %d: tree order differs from the sorted entries", step)
		}
		for i, e := range want {
			if p := tr.position(e[1], e[0]); p != i {
				t.Fatalf("position(%v) = %d, want %d", e, p, i)
			}
			greater := 0
			for _, f := range want {
				if f[0] > e[0] {
					greater++
				}
			}
			if g := tr.countGreater(e[0]); g != greater {
				t.Fatalf("countGreater(%d) = %d, want %d", e[0], g, greater)
			}
		}
		k := rng.IntN(len(want) + 2)
		var walked [][2]int64
		tr.walk(k, func(rep, score int64) bool {
			walked = append(walked, [2]int64{score, rep})
			return true
		})
		if !slices.Equal(walked, want[min(k, len(want)):]) {
			t.Fatalf("walk(%d) differs from the sorted entries", k)
		}
	}
	if len(tr.nodes)-1-len(tr.free) != len(scores) {
		t.Errorf("%d live nodes for %d reps", len(tr.nodes)-1-len(tr.free), len(scores))
	}
}
