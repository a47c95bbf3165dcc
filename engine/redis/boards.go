package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"podium/engine"
	"podium/game"
)

var _ engine.Boards = (*Boards)(nil)

// applyScript applies one event to one board. KEYS[1] is the board, KEYS[2]
// its dedup set of event ids scored by the time they were applied (ms).
// ARGV: event id, now (ms), cutoff (ms; ids older than it are forgotten),
// TTL of the dedup set (ms), then rep id, delta pairs. It returns 1 when the
// deltas were applied, 0 when the event had already been applied.
//
// Pruning comes first, so an id older than the window counts as new: the
// contract is "at least DedupWindow". The dedup set is per board, not per
// event, so an Apply cut short by a broken connection is completed by the
// retry on exactly the boards it had not reached.
const applyScript = `
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3])
if redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1]) == 0 then
	return 0
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
for i = 5, #ARGV, 2 do
	redis.call('ZINCRBY', KEYS[1], ARGV[i + 1], ARGV[i])
end
return 1
`

// applyEventScript applies one event to every board it touches, for a Redis
// that is not a cluster (where one script may touch keys of any slot).
// KEYS[1] is the event's applied-marker, KEYS[2…] the boards. ARGV[1] is the
// dedup window (ms), ARGV[2] the cutoff (ms; a mark older than it is
// forgotten), ARGV[3] now (ms, the mark's value: the clock is the caller's, so
// tests can move it); then, for each board in KEYS order, the number of pairs
// followed by rep id, delta pairs. It returns 1 when the deltas were applied,
// 0 when the event had already been applied within the window. One script
// call per event instead of one per board saves Redis about a third of its
// time on a 36-board deal (BenchmarkRedisApplyDeal reports both).
const applyEventScript = `
local at = redis.call('GET', KEYS[1])
if at and tonumber(at) >= tonumber(ARGV[2]) then
	return 0
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[1])
local a = 4
for k = 2, #KEYS do
	local n = tonumber(ARGV[a])
	a = a + 1
	for i = 1, n do
		redis.call('ZINCRBY', KEYS[k], ARGV[a + 1], ARGV[a])
		a = a + 2
	end
end
return 1
`

// standingScript reads a rep's score and the number of members with a
// strictly higher score in one round trip (ZCOUNT needs the score ZSCORE
// returns, so a plain pipeline cannot do it). With ARGV[2] == "1" it also
// counts the members that tie with the rep and precede it in game.RankLess
// order (lower rep id; ids are compared as Lua numbers, exact below 2^53).
// KEYS[1] is the board, ARGV[1] the rep id. It returns nil when the rep is
// absent, else {score, greater, tiesBefore}.
const standingScript = `
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s then
	return false
end
local g = redis.call('ZCOUNT', KEYS[1], '(' .. s, '+inf')
local before = 0
if ARGV[2] == '1' then
	local rep = tonumber(ARGV[1])
	local ties = redis.call('ZRANGEBYSCORE', KEYS[1], s, s)
	for i = 1, #ties do
		if tonumber(ties[i]) < rep then
			before = before + 1
		end
	end
end
return {s, g, before}
`

// replaceChunk is how many members one ZADD of Replace carries, so a large
// rebuild is not one enormous command.
const replaceChunk = 1000

// Boards is an engine.Boards on Redis sorted sets. It is safe for concurrent
// use. The zero value is not usable; call NewBoards.
type Boards struct {
	c        goredis.UniversalClient
	prefix   string
	now      func() time.Time
	apply    *goredis.Script
	applyOne *goredis.Script
	standing *goredis.Script
	// cluster is true on a Redis Cluster, where one script may only touch
	// keys of one hash slot: Apply then runs one script per board.
	cluster bool
}

// BoardsOption configures NewBoards.
type BoardsOption func(*Boards)

// WithClock makes Boards read the time from now instead of time.Now. Only the
// dedup window uses the clock (the time an event id was applied is stored in
// Redis); tests move it to expire applied event ids.
func WithClock(now func() time.Time) BoardsOption {
	return func(b *Boards) { b.now = now }
}

// WithClusterLayout forces (or disables) the Redis Cluster way of applying an
// event: one script per board instead of one per event. NewBoards picks it by
// itself for a *ClusterClient; tests use this to exercise both on one Redis.
func WithClusterLayout(on bool) BoardsOption {
	return func(b *Boards) { b.cluster = on }
}

// NewBoards returns boards stored in c under keys that start with prefix.
// Nodes sharing boards must use the same prefix.
func NewBoards(c goredis.UniversalClient, prefix string, opts ...BoardsOption) *Boards {
	b := &Boards{
		c:        c,
		prefix:   prefix,
		now:      time.Now,
		apply:    goredis.NewScript(applyScript),
		applyOne: goredis.NewScript(applyEventScript),
		standing: goredis.NewScript(standingScript),
	}
	_, b.cluster = c.(*goredis.ClusterClient)
	for _, o := range opts {
		o(b)
	}
	return b
}

// key returns the sorted set of a board: "<prefix>{<board>}".
func (b *Boards) key(board string) string { return b.prefix + "{" + board + "}" }

// Apply adds every delta in one round trip. On a single Redis it is one
// script call that marks eventID applied (for engine.DedupWindow) and
// increments only when the mark is new. On a Redis Cluster, where boards live
// in different hash slots, it is a pipeline of one script call per board, each
// recording eventID in that board's dedup set. Either way re-applying an
// event within the window changes nothing. A delta of zero puts an absent rep
// on the board with score 0 (ZINCRBY semantics).
func (b *Boards) Apply(ctx context.Context, eventID string, deltas []game.BoardDelta) error {
	return b.ApplyBatch(ctx, []engine.EventDeltas{{ID: eventID, Deltas: deltas}})
}

// ApplyBatch applies several events in one pipeline: one script call per
// event on a single Redis, one per event and board on a cluster.
func (b *Boards) ApplyBatch(ctx context.Context, events []engine.EventDeltas) error {
	var calls []scriptCall
	for _, ev := range events {
		if ev.ID == "" {
			return errors.New("redis apply: empty event id")
		}
		if len(ev.Deltas) == 0 {
			continue
		}
		if b.cluster {
			calls = append(calls, b.boardCalls(ev.ID, ev.Deltas)...)
		} else {
			calls = append(calls, b.eventCall(ev.ID, ev.Deltas))
		}
	}
	if len(calls) == 0 {
		return nil
	}
	script := b.applyOne
	if b.cluster {
		script = b.apply
	}
	if _, err := runScripts(ctx, b.c, script, calls); err != nil {
		return fmt.Errorf("redis apply: %w", err)
	}
	return nil
}

// boardCalls are the cluster layout's script calls for one event: one per
// board, each with the board's dedup set.
func (b *Boards) boardCalls(eventID string, deltas []game.BoardDelta) []scriptCall {
	now := b.now().UnixMilli()
	window := engine.DedupWindow.Milliseconds()
	nowArg, cutoffArg, ttlArg := strconv.FormatInt(now, 10), strconv.FormatInt(now-window, 10), strconv.FormatInt(window, 10)
	calls := make([]scriptCall, 0, len(deltas))
	index := make(map[string]int, len(deltas))
	for _, d := range deltas {
		i, ok := index[d.Board]
		if !ok {
			i = len(calls)
			index[d.Board] = i
			key := b.key(d.Board)
			calls = append(calls, scriptCall{
				keys: []string{key, key + ":seen"},
				args: append(make([]any, 0, 6), eventID, nowArg, cutoffArg, ttlArg),
			})
		}
		calls[i].args = append(calls[i].args, strconv.FormatInt(d.RepID, 10), strconv.FormatInt(d.Delta, 10))
	}
	return calls
}

// eventCall is the single-Redis layout's one script call for an event.
func (b *Boards) eventCall(eventID string, deltas []game.BoardDelta) scriptCall {
	type board struct {
		key   string
		pairs []any
	}
	var boards []board
	index := make(map[string]int, len(deltas))
	for _, d := range deltas {
		i, ok := index[d.Board]
		if !ok {
			i = len(boards)
			index[d.Board] = i
			boards = append(boards, board{key: b.key(d.Board)})
		}
		boards[i].pairs = append(boards[i].pairs, strconv.FormatInt(d.RepID, 10), strconv.FormatInt(d.Delta, 10))
	}
	keys := make([]string, 1, len(boards)+1)
	keys[0] = b.prefix + "applied:{" + eventID + "}"
	now, window := b.now().UnixMilli(), engine.DedupWindow.Milliseconds()
	args := make([]any, 3, 3+len(boards)+2*len(deltas))
	args[0], args[1], args[2] = strconv.FormatInt(window, 10), strconv.FormatInt(now-window, 10), strconv.FormatInt(now, 10)
	for _, bd := range boards {
		keys = append(keys, bd.key)
		args = append(args, strconv.Itoa(len(bd.pairs)/2))
		args = append(args, bd.pairs...)
	}
	return scriptCall{keys: keys, args: args}
}

// scriptCall is one invocation of a Lua script in a pipeline.
type scriptCall struct {
	keys []string
	args []any
}

// runScripts runs calls of script s in one pipeline of EVALSHA. Calls that
// fail with NOSCRIPT (the server's script cache was flushed, or a cluster
// node never saw the script) are run again with EVAL in a second pipeline,
// which also caches the script for the next time. It returns the first
// error of any call.
func runScripts(ctx context.Context, c goredis.UniversalClient, s *goredis.Script, calls []scriptCall) ([]*goredis.Cmd, error) {
	cmds := make([]*goredis.Cmd, len(calls))
	// The pipeline's own error is the first failed command's; each command
	// is inspected below, so it is not needed here.
	_, _ = c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, call := range calls {
			cmds[i] = s.EvalSha(ctx, p, call.keys, call.args...)
		}
		return nil
	})
	var retry []int
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			if !goredis.HasErrorPrefix(err, "NOSCRIPT") {
				return cmds, err
			}
			retry = append(retry, i)
		}
	}
	if len(retry) == 0 {
		return cmds, nil
	}
	_, _ = c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, i := range retry {
			cmds[i] = s.Eval(ctx, p, calls[i].keys, calls[i].args...)
		}
		return nil
	})
	for _, i := range retry {
		if err := cmds[i].Err(); err != nil {
			return cmds, err
		}
	}
	return cmds, nil
}

// Top returns the first n standings of a board in game.RankLess order with
// competition ranks; an unknown board or n ≤ 0 gives an empty slice. It takes
// one round trip, two when the n-th rep ties with the one after it.
func (b *Boards) Top(ctx context.Context, board string, n int) ([]game.Standing, error) {
	if n <= 0 {
		return []game.Standing{}, nil
	}
	out, err := b.rangeByPosition(ctx, b.key(board), 0, int64(n)-1)
	if err != nil {
		return nil, fmt.Errorf("redis top: %w", err)
	}
	return out, nil
}

// Standing returns one rep's standing in one round trip; ok is false when the
// rep is not on the board.
func (b *Boards) Standing(ctx context.Context, board string, repID int64) (game.Standing, bool, error) {
	st, _, ok, err := b.standingOf(ctx, b.key(board), repID, false)
	if err != nil {
		return game.Standing{}, false, fmt.Errorf("redis standing: %w", err)
	}
	return st, ok, nil
}

// standingOf returns a rep's standing and, when withPosition, its 0-based
// position in game.RankLess order.
func (b *Boards) standingOf(ctx context.Context, key string, repID int64, withPosition bool) (game.Standing, int64, bool, error) {
	flag := "0"
	if withPosition {
		flag = "1"
	}
	res, err := b.standing.Run(ctx, b.c, []string{key}, strconv.FormatInt(repID, 10), flag).Slice()
	if errors.Is(err, goredis.Nil) {
		return game.Standing{}, 0, false, nil
	}
	if err != nil {
		return game.Standing{}, 0, false, err
	}
	if len(res) != 3 {
		return game.Standing{}, 0, false, fmt.Errorf("standing script returned %d values, want 3", len(res))
	}
	s, _ := res[0].(string)
	score, err := parseScore(s)
	if err != nil {
		return game.Standing{}, 0, false, err
	}
	greater, ok1 := res[1].(int64)
	before, ok2 := res[2].(int64)
	if !ok1 || !ok2 {
		return game.Standing{}, 0, false, fmt.Errorf("standing script returned %T, %T, want integers", res[1], res[2])
	}
	return game.Standing{RepID: repID, Score: score, Rank: int(greater) + 1}, greater + before, true, nil
}

// Around returns the standings of up to radius reps before and after repID
// in board order, the rep included; it is empty when the rep is not on the
// board. A negative radius counts as 0. It takes two or three round trips: the
// rep's position, then the page around it.
func (b *Boards) Around(ctx context.Context, board string, repID int64, radius int) ([]game.Standing, error) {
	key := b.key(board)
	_, pos, ok, err := b.standingOf(ctx, key, repID, true)
	if err != nil {
		return nil, fmt.Errorf("redis around: %w", err)
	}
	if !ok {
		return []game.Standing{}, nil
	}
	r := int64(max(radius, 0))
	out, err := b.rangeByPosition(ctx, key, max(pos-r, 0), pos+r)
	if err != nil {
		return nil, fmt.Errorf("redis around: %w", err)
	}
	return out, nil
}

// rangeByPosition returns the standings at 0-based positions lo..hi
// (inclusive) in game.RankLess order.
//
// Redis orders equal scores by member bytes ("10" before "9"), not by rep id,
// so a ZREVRANGE page is right as a multiset of scores but not in who holds
// the places within a tie group cut by the page edge. The first round trip
// reads the page widened by one on each side, which tells whether the first
// or last tie group continues past the edge; only then a second round trip
// reads that whole group (ZRANGEBYSCORE [s [s) and, for the first group, how
// many members rank above it (ZCOUNT (s +inf). Groups inside the page are
// complete and are sorted locally. A tie group can be as large as the board
// (everyone at 0); reading it whole is the price of an exact order.
func (b *Boards) rangeByPosition(ctx context.Context, key string, lo, hi int64) ([]game.Standing, error) {
	fetchLo := max(lo-1, 0)
	zs, err := b.c.ZRevRangeWithScores(ctx, key, fetchLo, hi+1).Result()
	if err != nil {
		return nil, err
	}
	items := make([]game.Standing, len(zs))
	for i, z := range zs {
		rep, err := parseMember(z.Member)
		if err != nil {
			return nil, err
		}
		items[i] = game.Standing{RepID: rep, Score: scoreFromFloat(z.Score)}
	}
	i0 := int(lo - fetchLo) // index of position lo in items
	if i0 >= len(items) {
		return []game.Standing{}, nil
	}
	iEnd := min(len(items), int(hi-fetchLo)+1) // index after position hi
	page := items[i0:iEnd]
	first, last := page[0].Score, page[len(page)-1].Score
	before := i0 > 0 && items[i0-1].Score == first
	after := iEnd < len(items) && items[iEnd].Score == last

	// Group the page by score; start is the absolute position of a group's
	// first member, so its competition rank is start+1.
	type group struct {
		score int64
		start int64
		reps  []int64
	}
	var groups []group
	for i, it := range page {
		if len(groups) == 0 || groups[len(groups)-1].score != it.Score {
			groups = append(groups, group{score: it.Score, start: lo + int64(i)})
		}
		g := &groups[len(groups)-1]
		g.reps = append(g.reps, it.RepID)
	}

	if before || after {
		firstWhole := before || (after && len(groups) == 1)
		lastWhole := after && len(groups) > 1
		var firstCmd, lastCmd *goredis.StringSliceCmd
		var countCmd *goredis.IntCmd
		_, err := b.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			if firstWhole {
				s := strconv.FormatInt(first, 10)
				firstCmd = p.ZRangeByScore(ctx, key, &goredis.ZRangeBy{Min: s, Max: s})
				if before {
					countCmd = p.ZCount(ctx, key, "("+s, "+inf")
				}
			}
			if lastWhole {
				s := strconv.FormatInt(last, 10)
				lastCmd = p.ZRangeByScore(ctx, key, &goredis.ZRangeBy{Min: s, Max: s})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if firstCmd != nil {
			if groups[0].reps, err = parseMembers(firstCmd.Val()); err != nil {
				return nil, err
			}
			if countCmd != nil {
				groups[0].start = countCmd.Val()
			}
		}
		if lastCmd != nil {
			if groups[len(groups)-1].reps, err = parseMembers(lastCmd.Val()); err != nil {
				return nil, err
			}
		}
	}

	out := make([]game.Standing, 0, len(page))
	for _, g := range groups {
		slices.Sort(g.reps)
		for j, rep := range g.reps {
			if pos := g.start + int64(j); pos >= lo && pos <= hi {
				out = append(out, game.Standing{RepID: rep, Score: g.score, Rank: int(g.start) + 1})
			}
		}
	}
	return out, nil
}

// Replace sets a board to exactly scores; an empty map deletes the board. The
// new set is written under a temporary key in the board's hash slot and
// renamed over the board inside one MULTI/EXEC, so readers see the old board
// or the new one and a broken connection leaves nothing behind. The dedup set
// is kept: an event already counted in scores is still ignored if re-applied.
func (b *Boards) Replace(ctx context.Context, board string, scores map[int64]int64) error {
	key := b.key(board)
	if len(scores) == 0 {
		if err := b.c.Del(ctx, key).Err(); err != nil {
			return fmt.Errorf("redis replace: %w", err)
		}
		return nil
	}
	tmp := key + ":tmp:" + strconv.FormatUint(rand.Uint64(), 36)
	members := make([]goredis.Z, 0, len(scores))
	for rep, score := range scores {
		members = append(members, goredis.Z{Score: float64(score), Member: strconv.FormatInt(rep, 10)})
	}
	_, err := b.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for chunk := range slices.Chunk(members, replaceChunk) {
			p.ZAdd(ctx, tmp, chunk...)
		}
		p.Rename(ctx, tmp, key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis replace: %w", err)
	}
	return nil
}

// Boards lists the keys of every board that exists, sorted. It SCANs for
// "<prefix>{*}" on every master, which skips dedup sets ("…}:seen"),
// temporary keys and bus keys, none of which end in "}".
func (b *Boards) Boards(ctx context.Context) ([]string, error) {
	pattern := escapeGlob(b.prefix) + "{*}"
	var keys []string
	scan := func(ctx context.Context, c goredis.Cmdable) ([]string, error) {
		var out []string
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			inner, ok := strings.CutPrefix(k, b.prefix+"{")
			if !ok || !strings.HasSuffix(inner, "}") {
				continue
			}
			inner = strings.TrimSuffix(inner, "}")
			if strings.ContainsAny(inner, "{}") {
				continue
			}
			out = append(out, inner)
		}
		return out, iter.Err()
	}
	if cc, ok := b.c.(*goredis.ClusterClient); ok {
		var mu sync.Mutex // ForEachMaster calls back concurrently
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			found, err := scan(ctx, c)
			mu.Lock()
			keys = append(keys, found...)
			mu.Unlock()
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("redis boards: %w", err)
		}
	} else {
		found, err := scan(ctx, b.c)
		if err != nil {
			return nil, fmt.Errorf("redis boards: %w", err)
		}
		keys = found
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// Epoch returns the epoch marker stored at "<prefix>epoch", "" when the key
// is missing (a new or flushed Redis).
func (b *Boards) Epoch(ctx context.Context) (string, error) {
	e, err := b.c.Get(ctx, b.prefix+"epoch").Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redis epoch: %w", err)
	}
	return e, nil
}

// SetEpoch stores the epoch marker at "<prefix>epoch", without expiry.
func (b *Boards) SetEpoch(ctx context.Context, epoch string) error {
	if err := b.c.Set(ctx, b.prefix+"epoch", epoch, 0).Err(); err != nil {
		return fmt.Errorf("redis set epoch: %w", err)
	}
	return nil
}

// Ping reports whether Redis answers.
func (b *Boards) Ping(ctx context.Context) error {
	if err := b.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}

// scoreFromFloat converts a sorted-set score to the integer it stands for.
// Scores are integers below 2^53 in magnitude, which a float64 holds exactly;
// rounding only guards against a score written by something else.
func scoreFromFloat(f float64) int64 {
	if f >= 0 {
		return int64(f + 0.5)
	}
	return int64(f - 0.5)
}

// parseScore parses a score as Redis prints it ("300", "-42", "1e+15").
func parseScore(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("score %q is not a number", s)
	}
	return scoreFromFloat(f), nil
}

func parseMember(m any) (int64, error) {
	s, ok := m.(string)
	if !ok {
		return 0, fmt.Errorf("member %v is %T, want a string", m, m)
	}
	rep, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("member %q is not a rep id", s)
	}
	return rep, nil
}

func parseMembers(ms []string) ([]int64, error) {
	out := make([]int64, len(ms))
	for i, s := range ms {
		rep, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("member %q is not a rep id", s)
		}
		out[i] = rep
	}
	return out, nil
}

// escapeGlob escapes the characters SCAN MATCH treats as a pattern.
func escapeGlob(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(s)
}
