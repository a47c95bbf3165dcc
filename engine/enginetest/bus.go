package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"podium/engine"
)

// BusHistorySize is the history length the buses given to TestBus must keep
// per channel.
const BusHistorySize = 16

// deliveryTimeout bounds how long the suite waits for a published message to
// reach a subscriber.
const deliveryTimeout = 5 * time.Second

// TestBus runs the engine.Bus contract. newBus returns two buses sharing one
// backend, as two nodes would (an in-process bus returns itself twice), each
// keeping BusHistorySize messages per channel; each call must return a new,
// empty backend.
//
// Beyond the words of engine.Bus the suite pins what both backends do:
// Subscribe returns once the subscription is active (a message published
// after it returns is delivered), delivery runs in the background until ctx
// is done, Subscribe with a done ctx returns an error, and History of a
// channel never published on is empty with epoch "" and complete true.
func TestBus(t *testing.T, newBus func(t *testing.T) (engine.Bus, engine.Bus)) {
	t.Run("Offsets", func(t *testing.T) { testOffsets(t, newBus) })
	t.Run("PublishBatch", func(t *testing.T) { testPublishBatch(t, newBus) })
	t.Run("History", func(t *testing.T) { testHistory(t, newBus) })
	t.Run("HistoryTrimmed", func(t *testing.T) { testHistoryTrimmed(t, newBus) })
	t.Run("DeliveredToEveryNode", func(t *testing.T) { testDelivery(t, newBus) })
	t.Run("OrderPerChannel", func(t *testing.T) { testOrder(t, newBus) })
	t.Run("DataIsExact", func(t *testing.T) { testData(t, newBus) })
	t.Run("StopsWhenContextDone", func(t *testing.T) { testStop(t, newBus) })
	t.Run("Forget", func(t *testing.T) { testForget(t, newBus) })
}

// testForget: a forgotten channel has no history, and its next message
// starts a new epoch at offset 1, so resuming clients are reset.
func testForget(t *testing.T, newBus func(t *testing.T) (engine.Bus, engine.Bus)) {
	a, b := newBus(t)
	publish(t, a, "feed", "Ann Example won")
	old := publish(t, a, "feed", "Ann Example won again")
	if err := b.Forget(t.Context(), "feed"); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if msgs, _, _ := history(t, a, "feed", 0); len(msgs) != 0 {
		t.Fatalf("history after Forget = %d messages, want none", len(msgs))
	}
	m := publish(t, a, "feed", "someone else")
	if m.Offset != 1 || m.Epoch == old.Epoch {
		t.Fatalf("after Forget: offset %d epoch %q (old %q), want offset 1 and a new epoch", m.Offset, m.Epoch, old.Epoch)
	}
	if err := a.Forget(t.Context(), "never-used"); err != nil {
		t.Fatalf("Forget of an unknown channel: %v", err)
	}
}

func publish(t *testing.T, b engine.Bus, channel string, data string) engine.Message {
	t.Helper()
	m, err := b.Publish(t.Context(), channel, []byte(data))
	if err != nil {
		t.Fatalf("Publish(%s): %v", channel, err)
	}
	return m
}

func history(t *testing.T, b engine.Bus, channel string, since uint64) ([]engine.Message, string, bool) {
	t.Helper()
	msgs, epoch, complete, err := b.History(t.Context(), channel, since)
	if err != nil {
		t.Fatalf("History(%s, %d): %v", channel, since, err)
	}
	return msgs, epoch, complete
}

func offsets(msgs []engine.Message) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Offset
	}
	return out
}

func span(from, to uint64) []uint64 {
	var out []uint64
	for o := from; o <= to; o++ {
		out = append(out, o)
	}
	return out
}

// collector gathers what a subscription delivers and fails the test if its
// handler is ever called concurrently.
type collector struct {
	t      *testing.T
	in     atomic.Bool
	mu     sync.Mutex
	msgs   []engine.Message
	notify chan struct{}
}

func subscribe(t *testing.T, ctx context.Context, b engine.Bus) *collector {
	t.Helper()
	c := &collector{t: t, notify: make(chan struct{}, 1)}
	if err := b.Subscribe(ctx, c.handle); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return c
}

func (c *collector) handle(m engine.Message) {
	if !c.in.CompareAndSwap(false, true) {
		c.t.Error("handler called concurrently")
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	c.in.Store(false)
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *collector) snapshot() []engine.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}

// wait returns once n messages arrived, failing the test after
// deliveryTimeout.
func (c *collector) wait(n int) []engine.Message {
	c.t.Helper()
	deadline := time.After(deliveryTimeout)
	for {
		if got := c.snapshot(); len(got) >= n {
			return got
		}
		select {
		case <-c.notify:
		case <-deadline:
			got := c.snapshot()
			c.t.Fatalf("received %d messages within %v, want %d", len(got), deliveryTimeout, n)
			return got
		}
	}
}

func testOffsets(t *testing.T, newBus func(t *testing.T) (engine.Bus, engine.Bus)) {
	a, b := newBus(t)
	var epoch string
	for i := uint64(1); i <= 5; i++ {
		m := publish(t, a, "board:x", "m"+strconv.FormatUint(i, 10))
		if m.Offset != i || m.Channel != "board:x" || string(m.Data) != "m"+strconv.FormatUint(i, 10) {
			t.Errorf("Publish #%d = %+v", i, m)
		}
		if m.Epoch == "" {
			t.Errorf("Publish #%d has an empty epoch", i)
		}
		if epoch == "" {
			epoch = m.Epoch
		} else if m.Epoch != epoch {
			t.Errorf("epoch changed from %q to %q without loss of history", epoch, m.Epoch)
		}
	}
	// The other node continues the same channel.
	if m := publish(t, b, "board:x", "m6"); m.Offset != 6 || m.Epoch != epoch {
		t.Errorf("Publish on the second node = %+v, want offset 6 epoch %q", m, epoch)
	}
	// Another channel counts from 1.
	if m := publish(t, b, "rep:7", "hello"); m.Offset != 1 || m.Epoch == "" {
		t.Errorf("first Publish on a new channel = %+v, want offset 1 and an epoch", m)
	}
	if m := publish(t, a, "board:x", "m7"); m.Offset != 7 {
		t.Errorf("Publish after another channel = %+v, want offset 7", m)
	}
}

func testPublishBatch(t *testing.T, newBus func(t *testing.T) (engine.Bus, engine.Bus)) {
	a, b := newBus(t)
	publish(t, a, "feed", "m1")
	pubs := []engine.Publication{
		{Channel: "feed", Data: []byte(`"m2"`)},
		{Channel: "rep:1", Data: []byte(`"r1"`)},
		{Channel: "feed", Data: []byte(`"m3"`)},
	}
	if err := b.PublishBatch(t.Context(), pubs); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishBatch(t.Context(), nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
	msgs, _, complete, err := a.History(t.Context(), "feed", 0)
	if err != nil || !complete {
		t.Fatalf("History(feed) = %v, complete %v", err, complete)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, strconv.FormatUint(m.Offset, 10)+"="+string(m.Data))
	}
	if want := []string{"1=m1", `2="m2"`, `3="m3"`}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("feed after a batch = %v, want %v", got, want)
	}
	rep, _, _, err := a.History(t.Context(), "rep:1", 0)
	if err != nil || len(rep) != 1 || rep[0].Offset != 1 || string(rep[0].Data) != `"r1"` {
		t.Errorf("rep:1 after a batch = %+v (%v)", rep, err)
	}
}

func testHistory(t *testing.T, newBus func(t *testing.T) (engine.Bus, engine.Bus)) {
	a, b := newBus(t)
	var epoch string
	for i := range 5 {
		epoch = publish(t, a, "board:h", fmt.Sprintf("d%d", i+1)).Epoch
	}
	for _, node := range []engine.Bus{a, b} {
		msgs, ep, complete := history(t, node, "board:h", 0)
		if !complete || ep != epoch || !slices.Equal(offsets(msgs), span(1, 5)) {
			t.Errorf("History(0) = %v, %q, %v; want 1..5, %q, true", offsets(msgs), ep, complete, epoch)
		}
		for i, m := range msgs {
			if m.Channel != "board:h" || m.Epoch != epoch || string(m.Data) != fmt.Sprintf("d%d", i+1) {
				t.Errorf("History(0)[%d] = %+v", i, m)
			}
		}
	}
	msgs, _, complete := history(t, b, "board:h", 3)
	if !complete || !slices.Equal(offsets(msgs), []uint64{4, 5}) {
		t.Errorf("History(3) = %v, %v; want [4 5], true", offsets(msgs), complete)
	}
	msgs, _, complete = history(t, a, "board:h", 5)
	if !complete || len(msgs) != 0 {
		t.Errorf("History(5) = %v, %v; want none, true", offsets(msgs), complete)
	}
	// A client ahead of the channel saw offsets that no longer exist.
	if _, _, complete = history(t, a, "board:h", 9); complete {
		t.Error("History(9) on a channel at offset 5: complete = true, want false")
	}
	msgs, ep, complete := history(t, a, "board:never", 0)
	if len(msgs) != 0 || ep != "" || !complete {
		t.Errorf("History of an unknown channel = %v, %q, %v; want none, \"\", true", offsets(msgs), ep, complete)
	}
}

func testHistoryTrimmed(t *testing.T, newBus func(t *testing.T) (engine.Bus, engine.Bus)) {
	a, b := newBus(t)
	const n = BusHistorySize + 4
	for i := range n {
		publish(t, a, "board:t", strconv.Itoa(i+1))
	}
	oldest := uint64(n - BusHistorySize + 1)
	msgs, _, complete := history(t, b, "board:t", 0)
	if complete || !slices.Equal(offsets(msgs), span(oldest, n)) {
		t.Errorf("History(0) after trimming = %v, %v; want %d..%d, false", offsets(msgs), complete, oldest, n)
	}
	msgs, _, complete = history(t, b, "board:t", oldest-1)
	if !complete || !slices.Equal(offsets(msgs), span(oldest, n)) {
		t.Errorf("History(%d) = %v, %v; want %d..%d, true", oldest-1, offsets(msgs), complete, oldest, n)
	}
	if _, _, complete = history(t, b, "board:t", oldest-2); complete {
		t.Errorf("History(%d): complete = true, want false (offset %d was trimmed)", oldest-2, oldest-1)
	}
	msgs, _, complete = history(t, a, "board:t", n-2)
	if !complete || !slices.Equal(offsets(msgs), span(n-1, n)) {
		t.Errorf("History(%d) = %v, %v; want %d..%d, true", n-2, offsets(msgs), complete, n-1, n)
	}
}

func testDelivery(t *testing.T, newBus func(t *testing.T) (engine.Bus, engine.Bus)) {
	a, b := newBus(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	onA, onB := subscribe(t, ctx, a), subscribe(t, ctx, b)
	sent := []engine.Message{
		publish(t, a, "board:d", "1"),
		publish(t, a, "rep:1", "2"),
		publish(t, b, "board:d", "3"),
	}
	for name, c := range map[string]*collector{"node A": onA, "node B": onB} {
		got := c.wait(len(sent))
		for _, want := range sent {
			if !slices.ContainsFunc(got, func(m engine.Message) bool {
				return m.Channel == want.Channel && m.Offset == want.Offset && m.Epoch == want.Epoch && bytes.Equal(m.Data, want.Data)
			}) {
				t.Errorf("%s did not receive %+v; got %+v", name, want, got)
			}
		}
	}
}

// testOrder publishes from several goroutines on both nodes and checks that
// each channel is delivered in offset order, without gaps.
func testOrder(t *testing.T, newBus func(t *testing.T) (engine.Bus, engine.Bus)) {
	a, b := newBus(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := subscribe(t, ctx, b)
	channels := []string{"board:o1", "board:o2", "rep:9"}
	const publishers, each = 4, 50
	var wg sync.WaitGroup
	for p := range publishers {
		node := a
		if p%2 == 1 {
			node = b
		}
		wg.Go(func() {
			for i := range each {
				ch := channels[(p+i)%len(channels)]
				if _, err := node.Publish(ctx, ch, []byte(ch)); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := c.wait(publishers * each)
	per := map[string][]uint64{}
	for _, m := range got {
		per[m.Channel] = append(per[m.Channel], m.Offset)
	}
	total := 0
	for _, ch := range channels {
		total += len(per[ch])
		if !slices.Equal(per[ch], span(1, uint64(len(per[ch])))) {
			t.Errorf("channel %s delivered offsets %v, want 1..%d in order", ch, per[ch], len(per[ch]))
		}
	}
	if total != publishers*each {
		t.Errorf("delivered %d messages, want %d", total, publishers*each)
	}
}

func testData(t *testing.T, newBus func(t *testing.T) (engine.Bus, engine.Bus)) {
	a, b := newBus(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := subscribe(t, ctx, b)
	payloads := [][]byte{
		{},
		[]byte(`{"top":[{"rep_id":1,"score":"12.50"}]}`),
		{0, '|', 1, '|', 0xff, '\n', '{', '}'},
		bytes.Repeat([]byte("x|"), 5000),
	}
	channel := "board:{odd}|name"
	for _, p := range payloads {
		if _, err := a.Publish(ctx, channel, p); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	got := c.wait(len(payloads))
	msgs, _, _ := history(t, a, channel, 0)
	if len(msgs) != len(payloads) {
		t.Fatalf("History returned %d messages, want %d", len(msgs), len(payloads))
	}
	for i, p := range payloads {
		if got[i].Channel != channel || !bytes.Equal(got[i].Data, p) {
			t.Errorf("delivered message %d = %q on %q, want %q", i, got[i].Data, got[i].Channel, p)
		}
		if msgs[i].Channel != channel || !bytes.Equal(msgs[i].Data, p) {
			t.Errorf("history message %d = %q on %q, want %q", i, msgs[i].Data, msgs[i].Channel, p)
		}
	}
}

func testStop(t *testing.T, newBus func(t *testing.T) (engine.Bus, engine.Bus)) {
	a, b := newBus(t)
	ctx, cancel := context.WithCancel(t.Context())
	c := subscribe(t, ctx, b)
	publish(t, a, "board:s", "before")
	c.wait(1)
	cancel()
	time.Sleep(100 * time.Millisecond) // let the subscription wind down
	publish(t, a, "board:s", "after")
	time.Sleep(200 * time.Millisecond)
	if got := c.snapshot(); len(got) != 1 {
		t.Errorf("received %d messages, want 1: delivery went on after ctx was done", len(got))
	}
	if err := b.Subscribe(ctx, c.handle); err == nil {
		t.Error("Subscribe with a done context: got nil error")
	}
}
