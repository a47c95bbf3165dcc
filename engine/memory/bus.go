package memory

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"

	"podium/engine"
)

var _ engine.Bus = (*Bus)(nil)

// DefaultSubscriberBuffer is the queue length of a subscriber when
// WithSubscriberBuffer is not given.
const DefaultSubscriberBuffer = 4096

// Bus is an in-process engine.Bus: one node, so "every node" is this
// process. Each channel has an offset counter, a random epoch made on its
// first publish and a ring of its last messages. The zero value is not usable;
// call NewBus.
type Bus struct {
	historySize int
	bufferSize  int

	mu       sync.RWMutex // guards channels (the map, not the channels in it)
	channels map[string]*channel

	// subs is the current subscriber list, replaced wholesale (copy on write)
	// on Subscribe and on unsubscribe so Publish reads it without a lock.
	subsMu sync.Mutex
	subs   atomic.Pointer[[]*subscriber]

	dropped atomic.Uint64
}

type channel struct {
	mu     sync.Mutex
	offset uint64
	epoch  string
	ring   []engine.Message // ring[(offset-1) % len(ring)] holds message offset
}

type subscriber struct {
	queue chan engine.Message
}

// BusOption configures NewBus.
type BusOption func(*Bus)

// WithSubscriberBuffer sets how many messages may wait for each subscriber's
// handler before further messages are dropped for it; n ≤ 0 means
// DefaultSubscriberBuffer.
func WithSubscriberBuffer(n int) BusOption {
	return func(b *Bus) {
		if n > 0 {
			b.bufferSize = n
		}
	}
}

// NewBus returns an in-process bus keeping the last historySize messages of
// every channel (none when historySize ≤ 0).
func NewBus(historySize int, opts ...BusOption) *Bus {
	b := &Bus{
		historySize: max(historySize, 0),
		bufferSize:  DefaultSubscriberBuffer,
		channels:    make(map[string]*channel),
	}
	b.subs.Store(new([]*subscriber))
	for _, o := range opts {
		o(b)
	}
	return b
}

// Dropped returns how many deliveries were dropped, over all subscribers,
// because a subscriber's queue was full.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

func (b *Bus) channel(name string, create bool) *channel {
	b.mu.RLock()
	ch := b.channels[name]
	b.mu.RUnlock()
	if ch != nil || !create {
		return ch
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch = b.channels[name]; ch == nil {
		ch = &channel{
			epoch: strconv.FormatUint(rand.Uint64(), 36),
			ring:  make([]engine.Message, b.historySize),
		}
		b.channels[name] = ch
	}
	return ch
}

// Publish assigns the next offset on channel, keeps the message in the
// channel's history and queues it for every subscriber. It never waits for a
// subscriber: a full queue drops the message for that subscriber only. data
// is copied; subscribers and History share the copy and must not modify it.
func (b *Bus) Publish(ctx context.Context, channelName string, data []byte) (engine.Message, error) {
	if err := ctx.Err(); err != nil {
		return engine.Message{}, err
	}
	ch := b.channel(channelName, true)
	msg := engine.Message{Channel: channelName, Data: append([]byte(nil), data...)}
	// The channel lock is held while queueing so two publishers on one
	// channel cannot queue their messages out of offset order.
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.offset++
	msg.Offset, msg.Epoch = ch.offset, ch.epoch
	if len(ch.ring) > 0 {
		ch.ring[(ch.offset-1)%uint64(len(ch.ring))] = msg
	}
	for _, s := range *b.subs.Load() {
		select {
		case s.queue <- msg:
		default:
			b.dropped.Add(1)
		}
	}
	return msg, nil
}

// PublishBatch publishes each message in turn.
func (b *Bus) PublishBatch(ctx context.Context, pubs []engine.Publication) error {
	for _, p := range pubs {
		if _, err := b.Publish(ctx, p.Channel, p.Data); err != nil {
			return err
		}
	}
	return nil
}

// History returns the messages on channel with offsets above since, oldest
// first, and the channel's epoch ("" for a channel never published on).
// complete is false when the history no longer reaches back to since+1, or
// when since is beyond the channel's offset (the offsets restarted); the
// messages still in the history are returned either way.
func (b *Bus) History(ctx context.Context, channelName string, since uint64) ([]engine.Message, string, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", false, err
	}
	ch := b.channel(channelName, false)
	if ch == nil {
		return nil, "", since == 0, nil
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if since > ch.offset {
		return nil, ch.epoch, false, nil
	}
	oldest := uint64(1)
	if n := uint64(len(ch.ring)); ch.offset > n {
		oldest = ch.offset - n + 1
	}
	complete := since+1 >= oldest
	from := max(since+1, oldest)
	var msgs []engine.Message
	if from <= ch.offset {
		msgs = make([]engine.Message, 0, ch.offset-from+1)
		for off := from; off <= ch.offset; off++ {
			msgs = append(msgs, ch.ring[(off-1)%uint64(len(ch.ring))])
		}
	}
	return msgs, ch.epoch, complete, nil
}

// Forget drops channelName's history and offsets; the next publish on it
// starts a new epoch.
func (b *Bus) Forget(ctx context.Context, channelName string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	delete(b.channels, channelName)
	b.mu.Unlock()
	return nil
}

// Subscribe registers handler and returns once it is registered: every
// message published after Subscribe returns is queued for it, until ctx is
// done. One goroutine per subscription calls handler, never concurrently and
// in publish order per channel; it stops when ctx is done, leaving queued
// messages undelivered. The error is ctx's error if ctx is already done.
func (b *Bus) Subscribe(ctx context.Context, handler func(engine.Message)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &subscriber{queue: make(chan engine.Message, b.bufferSize)}
	b.subsMu.Lock()
	old := *b.subs.Load()
	next := make([]*subscriber, len(old), len(old)+1)
	copy(next, old)
	next = append(next, s)
	b.subs.Store(&next)
	b.subsMu.Unlock()

	go func() {
		defer b.unsubscribe(s)
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-s.queue:
				if ctx.Err() != nil {
					return
				}
				handler(m)
			}
		}
	}()
	return nil
}

func (b *Bus) unsubscribe(s *subscriber) {
	b.subsMu.Lock()
	defer b.subsMu.Unlock()
	old := *b.subs.Load()
	next := make([]*subscriber, 0, len(old))
	for _, x := range old {
		if x != s {
			next = append(next, x)
		}
	}
	b.subs.Store(&next)
}
