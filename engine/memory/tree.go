package memory

import "math/rand/v2"

// tree is an order-statistic treap: a binary search tree ordered by
// game.RankLess (score descending, rep id ascending) that is a max-heap on a
// per-node priority, so its expected depth is O(log n). Every node keeps the
// size of its subtree, which answers "how many entries come before this key"
// and "which entry is k-th" in one descent.
//
// Nodes live in one slice and link by int32 index (0 is the nil node, whose
// size is 0): a board is a few hundred kilobytes of contiguous memory instead
// of a pointer per rep for the garbage collector to trace. Every operation is
// iterative, with top-down insertion (descend while the priority is higher,
// then split the rest of the path) and top-down deletion (replace the node by
// the merge of its children).
//
// A tree is not safe for concurrent use; the board that owns it holds the
// lock. Read-only methods (countGreater, position, walk) keep their scratch
// space on the goroutine's stack, so any number of them may run together under
// a read lock.
type tree struct {
	nodes []node // nodes[0] is the nil node
	free  []int32
	root  int32
	seed  uint64 // mixed into priorities so they are independent of rep ids
}

// node is 32 bytes, two to a cache line.
type node struct {
	score       int64
	rep         int64
	prio        uint32
	size        int32
	left, right int32
}

func newTree() tree {
	return tree{nodes: make([]node, 1, 16), seed: rand.Uint64()}
}

// keyLess reports whether (s1, r1) comes before (s2, r2) in board order; it
// is game.RankLess on bare values.
func keyLess(s1, r1, s2, r2 int64) bool {
	if s1 != s2 {
		return s1 > s2
	}
	return r1 < r2
}

// priority derives a node's heap priority from its rep id (splitmix64 of the
// id mixed with the tree's random seed): uniform, independent of the score
// order, and free of generator state.
func (t *tree) priority(rep int64) uint32 {
	z := uint64(rep) + t.seed + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return uint32((z ^ (z >> 31)) >> 32)
}

func (t *tree) len() int { return int(t.nodes[t.root].size) }

func (t *tree) alloc(rep, score int64) int32 {
	n := node{score: score, rep: rep, prio: t.priority(rep), size: 1}
	if k := len(t.free); k > 0 {
		i := t.free[k-1]
		t.free = t.free[:k-1]
		t.nodes[i] = n
		return i
	}
	t.nodes = append(t.nodes, n)
	return int32(len(t.nodes) - 1)
}

// insert adds (rep, score), which must not be in the tree.
func (t *tree) insert(rep, score int64) {
	n := t.alloc(rep, score) // before any pointer into t.nodes is taken
	prio := t.nodes[n].prio
	link := &t.root
	for {
		c := *link
		if c == 0 || t.nodes[c].prio < prio {
			break
		}
		nd := &t.nodes[c]
		nd.size++
		if keyLess(score, rep, nd.score, nd.rep) {
			link = &nd.left
		} else {
			link = &nd.right
		}
	}
	l, r := t.split(*link, score, rep)
	nd := &t.nodes[n]
	nd.left, nd.right = l, r
	nd.size = 1 + t.nodes[l].size + t.nodes[r].size
	*link = n
}

// split cuts the subtree at c into the entries before (score, rep) and the
// entries after it; the key itself is not in the subtree.
func (t *tree) split(c int32, score, rep int64) (l, r int32) {
	var buf [64]int32
	path := buf[:0]
	ll, rl := &l, &r
	for c != 0 {
		path = append(path, c)
		nd := &t.nodes[c]
		if keyLess(nd.score, nd.rep, score, rep) {
			*ll = c
			ll = &nd.right
			c = nd.right
		} else {
			*rl = c
			rl = &nd.left
			c = nd.left
		}
	}
	*ll, *rl = 0, 0
	// Each node on the path kept one child and got its other child from a
	// node deeper on the path, so recomputing sizes deepest first is exact.
	for i := len(path) - 1; i >= 0; i-- {
		nd := &t.nodes[path[i]]
		nd.size = 1 + t.nodes[nd.left].size + t.nodes[nd.right].size
	}
	return l, r
}

// remove deletes (rep, score), which must be in the tree: the caller's
// rep→score map is the authority on membership.
func (t *tree) remove(rep, score int64) {
	link := &t.root
	for {
		c := *link
		if c == 0 {
			return // unreachable while the map and the tree agree
		}
		nd := &t.nodes[c]
		if nd.rep == rep && nd.score == score {
			l, r := nd.left, nd.right
			t.merge(link, l, r)
			t.nodes[c] = node{}
			t.free = append(t.free, c)
			return
		}
		nd.size--
		if keyLess(score, rep, nd.score, nd.rep) {
			link = &nd.left
		} else {
			link = &nd.right
		}
	}
}

// merge joins subtrees a and b, every key of a before every key of b, and
// stores the root of the result at link.
func (t *tree) merge(link *int32, a, b int32) {
	for a != 0 && b != 0 {
		na, nb := &t.nodes[a], &t.nodes[b]
		if na.prio > nb.prio {
			na.size += nb.size
			*link = a
			link = &na.right
			a = na.right
		} else {
			nb.size += na.size
			*link = b
			link = &nb.left
			b = nb.left
		}
	}
	if a != 0 {
		*link = a
	} else {
		*link = b
	}
}

// countGreater returns the number of entries with a score strictly above
// score: a rep's competition rank is one more than that.
func (t *tree) countGreater(score int64) int {
	cnt := 0
	for c := t.root; c != 0; {
		nd := &t.nodes[c]
		if nd.score > score {
			cnt += int(t.nodes[nd.left].size) + 1
			c = nd.right
		} else {
			c = nd.left
		}
	}
	return cnt
}

// position returns the number of entries before (score, rep) in board order:
// its 0-based index when it is in the tree.
func (t *tree) position(rep, score int64) int {
	cnt := 0
	for c := t.root; c != 0; {
		nd := &t.nodes[c]
		if keyLess(nd.score, nd.rep, score, rep) {
			cnt += int(t.nodes[nd.left].size) + 1
			c = nd.right
		} else {
			c = nd.left
		}
	}
	return cnt
}

// walk calls fn on the entries from 0-based position k on, in board order,
// until fn returns false or the entries run out.
func (t *tree) walk(k int, fn func(rep, score int64) bool) {
	if k < 0 {
		k = 0
	}
	var buf [64]int32
	stack := buf[:0] // ancestors whose left subtree is being visited
	for c := t.root; c != 0; {
		nd := &t.nodes[c]
		ls := int(t.nodes[nd.left].size)
		switch {
		case k < ls:
			stack = append(stack, c)
			c = nd.left
		case k == ls:
			stack = append(stack, c)
			c = 0
		default:
			k -= ls + 1
			c = nd.right
		}
	}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		nd := &t.nodes[c]
		if !fn(nd.rep, nd.score) {
			return
		}
		for x := nd.right; x != 0; x = t.nodes[x].left {
			stack = append(stack, x)
		}
	}
}
