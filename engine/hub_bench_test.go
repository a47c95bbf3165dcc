package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"podium/engine"
	"podium/engine/memory"
	"podium/internal/testsvc"
	"podium/store/sqlite"
)

// BenchmarkBroadcastHub is server.BenchmarkBroadcast without sockets: subs
// hub connections (Hub.NewConn, queue 256 as the server's default) subscribed
// to the feed, each drained by one goroutine that counts events; each op
// publishes one message on the engine's bus (in-process) and waits until
// every connection has dequeued it. deliveries/s is subs × ops / elapsed.
// The ratio server/BenchmarkBroadcast ÷ this is what the sockets, frames and
// writer goroutines cost.
func BenchmarkBroadcastHub(b *testing.B) {
	for _, subs := range []int{1, 100, 10_000} {
		b.Run("subs="+strconv.Itoa(subs), func(b *testing.B) {
			if subs > 4000 && testsvc.RaceEnabled {
				b.Skip("the race detector allows at most 8128 live goroutines; this size runs one per connection")
			}
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "p.db"), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			bus := memory.NewBus(1000)
			e := engine.New(engine.Config{}, st, memory.NewBoards(), bus)
			if err := e.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer e.Close(context.Background())

			var total, target atomic.Int64
			wake := make(chan struct{}, 1)
			var drained sync.WaitGroup
			conns := make([]*engine.Conn, subs)
			for i := range conns {
				c := e.Hub().NewConn(256)
				if err := c.Subscribe(ctx, engine.FeedChannel, nil); err != nil {
					b.Fatal(err)
				}
				conns[i] = c
				drained.Add(1)
				go func() {
					defer drained.Done()
					for {
						select {
						case msg := <-c.Out():
							if !bytes.HasPrefix(msg, []byte(`{"type":"event"`)) {
								continue // the subscription's acknowledgement
							}
							if total.Add(1) >= target.Load() {
								select {
								case wake <- struct{}{}:
								default:
								}
							}
						case <-c.Done():
							return
						}
					}
				}()
			}
			defer func() {
				for _, c := range conns {
					c.Close(1000, "")
				}
				drained.Wait()
			}()
			payload, _ := json.Marshal(engine.FeedEvent{
				Kind: "deal_won", DealName: "Acme Corp — platform renewal", Product: "Platform", Amount: "12500.00", Currency: "USD",
				Reps: []engine.FeedRep{{RepID: 17, Name: "Ana Lima", Team: "Enterprise", Amount: "12500.00"}},
				At:   time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC),
			})
			var sent int64
			publish := func() {
				sent++
				want := sent * int64(subs)
				target.Store(want)
				if _, err := bus.Publish(ctx, engine.FeedChannel, payload); err != nil {
					b.Fatal(err)
				}
				timeout := time.NewTimer(60 * time.Second)
				defer timeout.Stop()
				for total.Load() < want {
					select {
					case <-wake:
					case <-timeout.C:
						b.Fatalf("%d of %d deliveries after 60s", total.Load(), want)
					}
				}
			}
			for range 3 {
				publish()
			}
			b.ReportAllocs()
			for b.Loop() {
				publish()
			}
			b.ReportMetric(float64(subs)*float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
			if got := e.Hub().Connections(); got != subs {
				b.Fatalf("%d connections left, want %d: the hub dropped some as slow", got, subs)
			}
		})
	}
}
