package engine

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"podium/game"
)

// WebSocket close codes the hub uses. 4000–4999 are application codes.
const (
	CloseGoingAway    = 1001 // the server is shutting down; reconnect elsewhere or later
	CloseSlow         = 4008 // the client did not read its messages fast enough
	CloseUnauthorized = 4001 // the credentials were refused or revoked
)

// Since is where a resuming client left a channel.
type Since struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// Hub fans messages out to this node's connections. Event channels (the feed,
// a rep's channel) carry the bus's messages with the bus's offsets; board
// channels carry coalesced snapshots and deltas of a board's top entries,
// computed on this node with this node's offsets and epoch.
type Hub struct {
	e     *Engine
	epoch string // of this node's board channels

	mu     sync.Mutex
	conns  map[*Conn]struct{}
	events map[string]map[*Conn]*eventSub
	boards map[string]*boardChan
}

type eventSub struct {
	epoch   string
	last    uint64
	syncing bool
	buf     []Message
}

// boardChan is the live state of one board channel on this node.
type boardChan struct {
	name   string // board:<metric>:<period>:<scope>
	metric game.Metric
	period game.Period
	scope  string

	subs   map[*Conn]struct{}
	key    string // the board the channel shows now
	offset uint64
	last   []BoardEntry
	dirty  bool
	loaded bool
}

func newHub(e *Engine) *Hub {
	return &Hub{e: e, epoch: newEpoch(), conns: map[*Conn]struct{}{}, events: map[string]map[*Conn]*eventSub{}, boards: map[string]*boardChan{}}
}

// Conn is one client connection's side of the hub: a bounded queue of encoded
// messages that the server's writer goroutine drains, and the connection's
// subscriptions.
type Conn struct {
	hub  *Hub
	out  chan []byte
	done chan struct{}

	closeOnce sync.Once
	code      int
	reason    string

	// Principal is what the server authenticated; the hub does not read it.
	Principal any
	// owners name the credentials the connection was opened with
	// ("user:7", "token:3", "session:…"); revoking any of them closes it.
	owners []string
}

// SetOwners records the credentials the connection was opened with; call it
// before the connection is used. Revoke closes it when any is revoked.
func (c *Conn) SetOwners(owners ...string) { c.owners = owners }

// closeOwned closes, with CloseUnauthorized, every connection opened with
// credential owner.
func (h *Hub) closeOwned(owner string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for c := range h.conns {
		if slices.Contains(c.owners, owner) {
			c.markDone(CloseUnauthorized, "signed out or access revoked")
			h.removeLocked(c)
			n++
		}
	}
	return n
}

// NewConn registers a connection with a send queue of queueLen messages (zero
// means 256). The server must Close it when the socket ends.
func (h *Hub) NewConn(queueLen int) *Conn {
	if queueLen <= 0 {
		queueLen = 256
	}
	c := &Conn{hub: h, out: make(chan []byte, queueLen), done: make(chan struct{})}
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
	h.e.cfg.Metrics.Connections.Inc()
	return c
}

// Out is the queue of encoded messages to write, in order.
func (c *Conn) Out() <-chan []byte { return c.out }

// Done is closed when the connection must end; CloseStatus says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// CloseStatus returns the close code and reason once Done is closed.
func (c *Conn) CloseStatus() (int, string) {
	<-c.done
	return c.code, c.reason
}

// Close ends the connection with a close code and unsubscribes it everywhere.
// It is idempotent; the first code wins. The hub itself never calls it while
// fanning out (it holds its lock then): it only marks a slow connection done,
// and the server's Close of that connection unsubscribes it.
func (c *Conn) Close(code int, reason string) {
	c.markDone(code, reason)
	c.hub.remove(c)
}

// markDone records why the connection ends and wakes its writer.
func (c *Conn) markDone(code int, reason string) {
	c.closeOnce.Do(func() {
		c.code, c.reason = code, reason
		close(c.done)
		c.hub.e.cfg.Metrics.Connections.Dec()
	})
}

func (h *Hub) remove(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(c)
}

func (h *Hub) removeLocked(c *Conn) {
	delete(h.conns, c)
	for ch, subs := range h.events {
		if _, ok := subs[c]; ok {
			delete(subs, c)
			if len(subs) == 0 {
				delete(h.events, ch)
			}
		}
	}
	for name, b := range h.boards {
		if _, ok := b.subs[c]; ok {
			delete(b.subs, c)
			if len(b.subs) == 0 {
				delete(h.boards, name)
			}
		}
	}
}

// Send queues an encoded message without ever blocking: a connection whose
// queue is full is closed as slow, so one stuck reader cannot hold up the hub.
func (c *Conn) Send(msg []byte) {
	select {
	case <-c.done:
		return
	default:
	}
	select {
	case c.out <- msg:
		c.hub.e.cfg.Metrics.MessagesSent.Inc()
	default:
		c.hub.e.cfg.Metrics.SlowClosed.Inc()
		c.markDone(CloseSlow, "client too slow: send queue full")
	}
}

// ChannelKind classifies a client channel name.
type ChannelKind int

// The channel kinds.
const (
	ChannelInvalid ChannelKind = iota
	ChannelBoard               // board:<metric>:<period>:<scope>
	ChannelFeed                // feed
	ChannelRep                 // rep:<id>
)

// ParseChannel validates a client channel name. For a rep channel it returns
// the rep id.
func ParseChannel(name string) (ChannelKind, int64, error) {
	switch {
	case name == FeedChannel:
		return ChannelFeed, 0, nil
	case strings.HasPrefix(name, "rep:"):
		id, err := strconv.ParseInt(name[4:], 10, 64)
		if err != nil || id <= 0 {
			return ChannelInvalid, 0, game.Errorf(game.EInvalid, "channel", "channel %q: use rep:<id>", name)
		}
		return ChannelRep, id, nil
	case strings.HasPrefix(name, "board:"):
		if _, _, _, err := parseBoardChannel(name); err != nil {
			return ChannelInvalid, 0, err
		}
		return ChannelBoard, 0, nil
	}
	return ChannelInvalid, 0, game.Errorf(game.EInvalid, "channel", "unknown channel %q: use board:<metric>:<period>:<scope>, feed or rep:<id>", name)
}

func parseBoardChannel(name string) (game.Metric, game.Period, string, error) {
	parts := strings.Split(name, ":")
	if len(parts) != 4 || parts[0] != "board" {
		return "", "", "", game.Errorf(game.EInvalid, "channel", "board channel %q: use board:<metric>:<period>:<scope>", name)
	}
	m, err := game.ParseMetric(parts[1])
	if err != nil {
		return "", "", "", err
	}
	p, err := game.ParsePeriod(parts[2])
	if err != nil {
		return "", "", "", err
	}
	sc, err := game.ParseScope(parts[3])
	if err != nil {
		return "", "", "", err
	}
	if !m.OnPeriod(p) {
		return "", "", "", game.Errorf(game.EInvalid, "channel", "%s boards are by month only", m)
	}
	return m, p, sc, nil
}

type wireAck struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
}

// Subscribe subscribes the connection to a channel the server has authorized.
// A board channel answers with a snapshot, unless since shows the client is
// already current. An event channel answers with what the client missed since
// its offset, or with a "reset" carrying the current offset when the history
// no longer reaches back (or the epoch changed).
func (c *Conn) Subscribe(ctx context.Context, channel string, since *Since) error {
	kind, _, err := ParseChannel(channel)
	if err != nil {
		return err
	}
	if kind == ChannelBoard {
		return c.hub.subscribeBoard(ctx, c, channel, since)
	}
	return c.hub.subscribeEvents(ctx, c, channel, since)
}

// Unsubscribe removes one subscription.
func (c *Conn) Unsubscribe(channel string) {
	h := c.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if subs := h.events[channel]; subs != nil {
		delete(subs, c)
		if len(subs) == 0 {
			delete(h.events, channel)
		}
	}
	if b := h.boards[channel]; b != nil {
		delete(b.subs, c)
		if len(b.subs) == 0 {
			delete(h.boards, channel)
		}
	}
}

func (h *Hub) subscribeEvents(ctx context.Context, c *Conn, channel string, since *Since) error {
	sub := &eventSub{syncing: since != nil}
	h.mu.Lock()
	subs := h.events[channel]
	if subs == nil {
		subs = map[*Conn]*eventSub{}
		h.events[channel] = subs
	}
	subs[c] = sub
	h.mu.Unlock()
	ack, _ := json.Marshal(wireAck{Type: "subscribed", Channel: channel})
	c.Send(ack)
	if since == nil {
		return nil
	}
	msgs, epoch, complete, err := h.e.bus.History(ctx, channel, since.Offset)
	if err != nil {
		h.mu.Lock()
		sub.syncing, sub.buf = false, nil
		h.mu.Unlock()
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	sub.epoch = epoch
	if complete && epoch == since.Epoch {
		sub.last = since.Offset
		for _, m := range msgs {
			h.deliverLocked(c, sub, m)
		}
	} else {
		cur := since.Offset
		if n := len(msgs); n > 0 {
			cur = msgs[n-1].Offset
		} else if epoch != since.Epoch {
			cur = 0
		}
		reset, _ := json.Marshal(struct {
			Type    string `json:"type"`
			Channel string `json:"channel"`
			Offset  uint64 `json:"offset"`
			Epoch   string `json:"epoch"`
		}{"reset", channel, cur, epoch})
		c.Send(reset)
		sub.last = cur
	}
	for _, m := range sub.buf {
		h.deliverLocked(c, sub, m)
	}
	sub.syncing, sub.buf = false, nil
	return nil
}

type wireEvent struct {
	Type    string          `json:"type"`
	Channel string          `json:"channel"`
	Offset  uint64          `json:"offset"`
	Epoch   string          `json:"epoch"`
	Data    json.RawMessage `json:"data"`
}

func encodeEvent(m Message) []byte {
	b, _ := json.Marshal(wireEvent{Type: "event", Channel: m.Channel, Offset: m.Offset, Epoch: m.Epoch, Data: m.Data})
	return b
}

// deliver fans a bus message out to the channel's subscribers, encoding it once.
func (h *Hub) deliver(m Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := h.events[m.Channel]
	if len(subs) == 0 {
		return
	}
	enc := encodeEvent(m)
	for c, sub := range subs {
		if sub.syncing {
			sub.buf = append(sub.buf, m)
			continue
		}
		if sub.epoch != m.Epoch {
			sub.epoch, sub.last = m.Epoch, 0 // history lost: offsets restarted
		}
		if m.Offset > sub.last {
			sub.last = m.Offset
			c.Send(enc)
		}
	}
}

func (h *Hub) deliverLocked(c *Conn, sub *eventSub, m Message) {
	if m.Epoch != sub.epoch || m.Offset <= sub.last {
		return
	}
	sub.last = m.Offset
	c.Send(encodeEvent(m))
}

// ---- board channels ----

type wireBoard struct {
	Type     string       `json:"type"` // snapshot or delta
	Channel  string       `json:"channel"`
	Board    string       `json:"board"`
	Offset   uint64       `json:"offset"`
	Epoch    string       `json:"epoch"`
	Currency string       `json:"currency,omitempty"`
	Entries  []BoardEntry `json:"entries"`
	Removed  []int64      `json:"removed,omitempty"`
}

func (h *Hub) subscribeBoard(ctx context.Context, c *Conn, channel string, since *Since) error {
	m, p, scope, err := parseBoardChannel(channel)
	if err != nil {
		return err
	}
	key, err := h.e.CurrentBoard(m, p, scope)
	if err != nil {
		return err
	}
	h.mu.Lock()
	b := h.boards[channel]
	fresh := b == nil || !b.loaded
	h.mu.Unlock()
	var view BoardView
	if fresh {
		if view, err = h.e.Top(ctx, key, h.e.cfg.BoardTop); err != nil {
			return err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b = h.boards[channel]
	if b == nil {
		b = &boardChan{name: channel, metric: m, period: p, scope: scope, subs: map[*Conn]struct{}{}}
		h.boards[channel] = b
	}
	if !b.loaded {
		if !fresh { // loaded by another subscriber's race loser; reload next tick
			b.dirty = true
		}
		b.key, b.last, b.loaded = key.String(), view.Entries, true
	}
	b.subs[c] = struct{}{}
	ack, _ := json.Marshal(wireAck{Type: "subscribed", Channel: channel})
	c.Send(ack)
	if since != nil && since.Epoch == h.epoch && since.Offset == b.offset {
		return nil // already current
	}
	c.Send(h.encodeBoard("snapshot", b, b.last, nil))
	return nil
}

func (h *Hub) encodeBoard(typ string, b *boardChan, entries []BoardEntry, removed []int64) []byte {
	w := wireBoard{Type: typ, Channel: b.name, Board: b.key, Offset: b.offset, Epoch: h.epoch, Entries: entries, Removed: removed}
	if entries == nil {
		w.Entries = []BoardEntry{}
	}
	if b.metric.Money() {
		w.Currency = h.e.cfg.Currency
	}
	out, _ := json.Marshal(w)
	return out
}

// boardsTouched marks the board channels showing one of keys dirty; nil marks
// them all.
func (h *Hub) boardsTouched(keys []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if keys == nil {
		for _, b := range h.boards {
			b.dirty = true
		}
		return
	}
	if len(h.boards) == 0 {
		return
	}
	set := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		set[k] = struct{}{}
	}
	for _, b := range h.boards {
		if _, ok := set[b.key]; ok {
			b.dirty = true
		}
	}
}

// run sends coalesced board updates: at most one per board channel per
// CoalesceInterval, however many increments arrived meanwhile.
func (h *Hub) run(ctx context.Context) {
	t := time.NewTicker(h.e.cfg.CoalesceInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.flushBoards(ctx)
		}
	}
}

type boardWork struct {
	b      *boardChan
	key    game.BoardKey
	rolled bool
}

func (h *Hub) flushBoards(ctx context.Context) {
	var work []boardWork
	h.mu.Lock()
	for _, b := range h.boards {
		key, err := h.e.CurrentBoard(b.metric, b.period, b.scope)
		if err != nil || !b.loaded {
			continue
		}
		rolled := key.String() != b.key
		if b.dirty || rolled {
			b.dirty = false
			work = append(work, boardWork{b, key, rolled})
		}
	}
	h.mu.Unlock()
	for _, w := range work {
		view, err := h.e.Top(ctx, w.key, h.e.cfg.BoardTop)
		if err != nil {
			h.e.log.Warn("board update", "board", w.key.String(), "err", err)
			h.mu.Lock()
			w.b.dirty = true
			h.mu.Unlock()
			continue
		}
		h.mu.Lock()
		b := w.b
		var msg []byte
		if w.rolled {
			b.key, b.last = w.key.String(), view.Entries
			b.offset++
			msg = h.encodeBoard("snapshot", b, b.last, nil)
		} else if changed, removed := diffEntries(b.last, view.Entries); len(changed) > 0 || len(removed) > 0 {
			b.last = view.Entries
			b.offset++
			msg = h.encodeBoard("delta", b, changed, removed)
		}
		if msg != nil {
			for c := range b.subs {
				c.Send(msg)
			}
		}
		h.mu.Unlock()
	}
}

// diffEntries returns the entries of next that are new or differ from prev,
// and the reps of prev that are no longer in next.
func diffEntries(prev, next []BoardEntry) (changed []BoardEntry, removed []int64) {
	old := make(map[int64]BoardEntry, len(prev))
	for _, e := range prev {
		old[e.RepID] = e
	}
	in := make(map[int64]bool, len(next))
	for _, e := range next {
		in[e.RepID] = true
		if o, ok := old[e.RepID]; !ok || o != e {
			changed = append(changed, e)
		}
	}
	for _, e := range prev {
		if !in[e.RepID] {
			removed = append(removed, e.RepID)
		}
	}
	return changed, removed
}

// closeAll closes every connection with code.
func (h *Hub) closeAll(code int, reason string) {
	h.mu.Lock()
	conns := make([]*Conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.Close(code, reason)
	}
}

// Connections returns the number of open connections on this node.
func (h *Hub) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}
