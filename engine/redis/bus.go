package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"

	"podium/engine"
)

var _ engine.Bus = (*Bus)(nil)

// publishScript publishes one message. KEYS: the channel's offset counter,
// history list (newest first) and epoch. ARGV: a fresh random epoch, the
// history size, the pub/sub channel, the logical channel name, the data.
//
// The epoch is replaced whenever the offset counter is missing, not only
// when the epoch is: offsets that restart at 1 under an old epoch would make
// a resuming client skip messages. The history of the old epoch goes with it.
//
// The payload, kept in the history and published, is
// "1|<offset>|<len epoch>|<len channel>|<epoch><channel><data>": a version,
// then decimal fields, then raw bytes, so decoding is a few IndexByte calls and
// no escaping of data.
const publishScript = `
local epoch = redis.call('GET', KEYS[3])
if not epoch or redis.call('EXISTS', KEYS[1]) == 0 then
	epoch = ARGV[1]
	redis.call('SET', KEYS[3], epoch)
	redis.call('DEL', KEYS[2])
end
local off = redis.call('INCR', KEYS[1])
local payload = '1|' .. string.format('%d', off) .. '|' .. #epoch .. '|' .. #ARGV[4] .. '|' .. epoch .. ARGV[4] .. ARGV[5]
local size = tonumber(ARGV[2])
if size > 0 then
	redis.call('LPUSH', KEYS[2], payload)
	redis.call('LTRIM', KEYS[2], 0, size - 1)
end
redis.call('PUBLISH', ARGV[3], payload)
return {off, epoch}
`

// historyScript reads what a resuming client missed. KEYS as publishScript;
// ARGV[1] is the offset the client has. It returns {offset, epoch, history
// length, entries newer than since (newest first)}, reading only the entries
// needed rather than the whole list.
const historyScript = `
local off = tonumber(redis.call('GET', KEYS[1]) or '0')
local epoch = redis.call('GET', KEYS[3]) or ''
local llen = redis.call('LLEN', KEYS[2])
local n = off - tonumber(ARGV[1])
if n > llen then
	n = llen
end
local msgs = {}
if n > 0 then
	msgs = redis.call('LRANGE', KEYS[2], 0, n - 1)
end
return {off, epoch, llen, msgs}
`

// DefaultSubscriberBuffer is the length of the go-redis message channel of
// a subscription when WithSubscriberBuffer is not given.
const DefaultSubscriberBuffer = 4096

// Bus is an engine.Bus on Redis: per-channel offset, epoch and history keys
// written by one Lua script per publish, and one pub/sub channel that every
// node subscribes to. It is safe for concurrent use. The zero value is not
// usable; call NewBus.
type Bus struct {
	c           goredis.UniversalClient
	prefix      string
	historySize int
	bufferSize  int
	publish     *goredis.Script
	history     *goredis.Script
	malformed   atomic.Uint64
}

// BusOption configures NewBus.
type BusOption func(*Bus)

// WithSubscriberBuffer sets how many received messages may wait for a
// subscription's handler; n ≤ 0 means DefaultSubscriberBuffer. When the
// buffer stays full, go-redis drops messages after its send timeout (one
// minute), which is why handlers must not block.
func WithSubscriberBuffer(n int) BusOption {
	return func(b *Bus) {
		if n > 0 {
			b.bufferSize = n
		}
	}
}

// NewBus returns a bus on c whose keys start with prefix, keeping the last
// historySize messages of every channel (none when historySize ≤ 0). Nodes
// sharing a bus must use the same prefix and history size.
func NewBus(c goredis.UniversalClient, prefix string, historySize int, opts ...BusOption) *Bus {
	b := &Bus{
		c:           c,
		prefix:      prefix,
		historySize: max(historySize, 0),
		bufferSize:  DefaultSubscriberBuffer,
		publish:     goredis.NewScript(publishScript),
		history:     goredis.NewScript(historyScript),
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Malformed returns how many received pub/sub payloads could not be decoded
// and were skipped (something other than a Podium bus published on
// "<prefix>bus").
func (b *Bus) Malformed() uint64 { return b.malformed.Load() }

func (b *Bus) keys(channel string) []string {
	k := b.prefix + "{ch:" + channel + "}:"
	return []string{k + "off", k + "hist", k + "epoch"}
}

// Forget deletes channel's offset, history and epoch keys in one round
// trip; the publish script starts a new epoch when the offset is missing.
func (b *Bus) Forget(ctx context.Context, channel string) error {
	if err := b.c.Del(ctx, b.keys(channel)...).Err(); err != nil {
		return fmt.Errorf("forget %s: %w", channel, err)
	}
	return nil
}

// Publish assigns the next offset on channel, appends the message to the
// channel's history and publishes it to every node, in one round trip (one
// EVALSHA, EVAL if the script cache was flushed). The returned message's Data
// is data itself.
func (b *Bus) Publish(ctx context.Context, channel string, data []byte) (engine.Message, error) {
	epoch := strconv.FormatUint(rand.Uint64(), 36)
	res, err := b.publish.Run(ctx, b.c, b.keys(channel),
		epoch, b.historySize, b.prefix+"bus", channel, data).Slice()
	if err != nil {
		return engine.Message{}, fmt.Errorf("redis publish %s: %w", channel, err)
	}
	if len(res) != 2 {
		return engine.Message{}, fmt.Errorf("redis publish %s: script returned %d values, want 2", channel, len(res))
	}
	off, ok1 := res[0].(int64)
	ep, ok2 := res[1].(string)
	if !ok1 || !ok2 || off <= 0 {
		return engine.Message{}, fmt.Errorf("redis publish %s: script returned %v", channel, res)
	}
	return engine.Message{Channel: channel, Offset: uint64(off), Epoch: ep, Data: data}, nil
}

// PublishBatch publishes several messages, in order, in one pipeline of
// publish scripts.
func (b *Bus) PublishBatch(ctx context.Context, pubs []engine.Publication) error {
	if len(pubs) == 0 {
		return nil
	}
	calls := make([]scriptCall, len(pubs))
	for i, p := range pubs {
		epoch := strconv.FormatUint(rand.Uint64(), 36)
		calls[i] = scriptCall{keys: b.keys(p.Channel), args: []any{epoch, b.historySize, b.prefix + "bus", p.Channel, []byte(p.Data)}}
	}
	if _, err := runScripts(ctx, b.c, b.publish, calls); err != nil {
		return fmt.Errorf("redis publish: %w", err)
	}
	return nil
}

// History returns the messages on channel with offsets above since, oldest
// first, and the channel's epoch ("" for a channel never published on), in
// one round trip. complete is false when the history no longer reaches back
// to since+1, or when since is beyond the channel's offset (the offsets
// restarted); the messages still in the history are returned either way.
func (b *Bus) History(ctx context.Context, channel string, since uint64) ([]engine.Message, string, bool, error) {
	res, err := b.history.Run(ctx, b.c, b.keys(channel), strconv.FormatUint(since, 10)).Slice()
	if err != nil {
		return nil, "", false, fmt.Errorf("redis history %s: %w", channel, err)
	}
	if len(res) != 4 {
		return nil, "", false, fmt.Errorf("redis history %s: script returned %d values, want 4", channel, len(res))
	}
	off, ok1 := res[0].(int64)
	epoch, ok2 := res[1].(string)
	llen, ok3 := res[2].(int64)
	entries, ok4 := res[3].([]any)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil, "", false, fmt.Errorf("redis history %s: script returned %T, %T, %T, %T", channel, res[0], res[1], res[2], res[3])
	}
	complete := since <= uint64(off) && uint64(off)-since <= uint64(llen)
	var msgs []engine.Message
	if len(entries) > 0 {
		msgs = make([]engine.Message, 0, len(entries))
		for i := len(entries) - 1; i >= 0; i-- { // the list is newest first
			p, _ := entries[i].(string)
			m, err := decodeMessage(p)
			if err != nil {
				return nil, "", false, fmt.Errorf("redis history %s: %w", channel, err)
			}
			if m.Channel == channel && m.Offset > since {
				msgs = append(msgs, m)
			}
		}
	}
	return msgs, epoch, complete, nil
}

// Subscribe subscribes to "<prefix>bus" and returns once Redis has confirmed
// the subscription: every message published after Subscribe returns, by any
// node, reaches handler until ctx is done. One goroutine per subscription
// calls handler, never concurrently, in the order Redis delivered (publish
// order per channel). go-redis pings the connection and resubscribes after a
// failure; messages published while it is down are lost (pub/sub is at most
// once), which resuming clients repair from History. The error is non-nil
// when ctx is already done or Redis refused the subscription.
func (b *Bus) Subscribe(ctx context.Context, handler func(engine.Message)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis subscribe: %w", err)
	}
	ps := b.c.Subscribe(ctx, b.prefix+"bus")
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return fmt.Errorf("redis subscribe: %w", err)
	}
	ch := ps.Channel(goredis.WithChannelSize(b.bufferSize))
	go func() {
		defer ps.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok || ctx.Err() != nil {
					return
				}
				msg, err := decodeMessage(m.Payload)
				if err != nil {
					b.malformed.Add(1)
					continue
				}
				handler(msg)
			}
		}
	}()
	return nil
}

var errMalformed = errors.New("malformed bus payload")

// decodeMessage decodes a payload written by publishScript.
func decodeMessage(p string) (engine.Message, error) {
	rest, ok := strings.CutPrefix(p, "1|")
	if !ok {
		return engine.Message{}, errMalformed
	}
	off, rest, ok := cutUint(rest)
	if !ok {
		return engine.Message{}, errMalformed
	}
	elen, rest, ok := cutUint(rest)
	if !ok {
		return engine.Message{}, errMalformed
	}
	clen, rest, ok := cutUint(rest)
	if !ok || elen > uint64(len(rest)) || clen > uint64(len(rest))-elen {
		return engine.Message{}, errMalformed
	}
	return engine.Message{
		Offset:  off,
		Epoch:   rest[:elen],
		Channel: rest[elen : elen+clen],
		Data:    []byte(rest[elen+clen:]),
	}, nil
}

// cutUint parses the decimal number before the next '|' and returns it with
// what follows the '|'.
func cutUint(s string) (uint64, string, bool) {
	i := strings.IndexByte(s, '|')
	if i <= 0 {
		return 0, "", false
	}
	n, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return n, s[i+1:], true
}
