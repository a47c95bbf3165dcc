package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"podium/engine"
	"podium/game"
)

type wire struct {
	Type    string              `json:"type"`
	Channel string              `json:"channel"`
	Board   string              `json:"board"`
	Offset  uint64              `json:"offset"`
	Epoch   string              `json:"epoch"`
	Entries []engine.BoardEntry `json:"entries"`
	Removed []int64             `json:"removed"`
	Data    json.RawMessage     `json:"data"`
}

// next returns the next message queued to conn of the given type.
func next(t *testing.T, c *engine.Conn, typ string) wire {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case b := <-c.Out():
			var w wire
			if err := json.Unmarshal(b, &w); err != nil {
				t.Fatalf("bad message %s: %v", b, err)
			}
			if w.Type == typ {
				return w
			}
		case <-c.Done():
			code, reason := c.CloseStatus()
			t.Fatalf("connection closed (%d %s) while waiting for %s", code, reason, typ)
		case <-timeout:
			t.Fatalf("no %s message within 5s", typ)
		}
	}
}

func TestHubBoardSnapshotThenDelta(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := context.Background()
			f.deal(t, game.DealInput{ExternalID: "H-0", Version: 1, RepID: f.reps[1].ID, Amount: "50.00", Stage: "won", CloseTime: "2026-11-28T09:00:00Z"}, "")
			c := f.e.Hub().NewConn(64)
			defer c.Close(1000, "")
			if err := c.Subscribe(ctx, "board:revenue:month:company", nil); err != nil {
				t.Fatal(err)
			}
			snap := next(t, c, "snapshot")
			if snap.Board != "revenue:month:2026-11:company" || len(snap.Entries) != 1 || snap.Entries[0].Name != "Ben" || snap.Entries[0].Value != "50.00" {
				t.Fatalf("snapshot = %+v", snap)
			}
			// Three quick deals arrive as coalesced deltas, never a stale rank.
			for i, amt := range []string{"10.00", "70.00", "5.00"} {
				f.deal(t, game.DealInput{ExternalID: "H-" + string(rune('1'+i)), Version: 1, RepID: f.reps[0].ID, Amount: amt, Stage: "won", CloseTime: "2026-11-28T09:00:00Z"}, "")
			}
			deadline := time.After(5 * time.Second)
			var ana engine.BoardEntry
			for ana.Score != 8500 {
				select {
				case <-deadline:
					t.Fatalf("ana never reached 85.00 on the live board; last %+v", ana)
				default:
				}
				d := next(t, c, "delta")
				if d.Offset <= snap.Offset {
					t.Fatalf("delta offset %d not after snapshot %d", d.Offset, snap.Offset)
				}
				for _, e := range d.Entries {
					if e.RepID == f.reps[0].ID {
						ana = e
					}
				}
			}
			if ana.Rank != 1 {
				t.Fatalf("ana rank = %d, want 1", ana.Rank)
			}
		})
	}
}

func TestHubFeedAndResume(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := context.Background()
			c := f.e.Hub().NewConn(64)
			if err := c.Subscribe(ctx, engine.FeedChannel, nil); err != nil {
				t.Fatal(err)
			}
			f.deal(t, game.DealInput{ExternalID: "F-1", Version: 1, Name: "Acme renewal", RepID: f.reps[0].ID, Amount: "12000.00", Stage: "won", CloseTime: "2026-11-28T09:00:00Z"}, "")
			ev := next(t, c, "event")
			var fe engine.FeedEvent
			if err := json.Unmarshal(ev.Data, &fe); err != nil {
				t.Fatal(err)
			}
			if fe.Kind != "deal_won" || fe.DealName != "Acme renewal" || fe.Amount != "12000.00" || len(fe.Reps) != 1 || fe.Reps[0].Name != "Ana" || fe.Reps[0].Team != "Enterprise" {
				t.Fatalf("feed event = %+v", fe)
			}
			c.Close(1000, "")

			// Two wins while the client is away; it resumes from its offset.
			f.deal(t, game.DealInput{ExternalID: "F-2", Version: 1, RepID: f.reps[1].ID, Amount: "1.00", Stage: "won", CloseTime: "2026-11-28T09:00:00Z"}, "")
			f.deal(t, game.DealInput{ExternalID: "F-3", Version: 1, RepID: f.reps[2].ID, Amount: "2.00", Stage: "won", CloseTime: "2026-11-28T09:00:00Z"}, "")
			c2 := f.e.Hub().NewConn(64)
			defer c2.Close(1000, "")
			if err := c2.Subscribe(ctx, engine.FeedChannel, &engine.Since{Offset: ev.Offset, Epoch: ev.Epoch}); err != nil {
				t.Fatal(err)
			}
			m1, m2 := next(t, c2, "event"), next(t, c2, "event")
			if m1.Offset != ev.Offset+1 || m2.Offset != ev.Offset+2 {
				t.Fatalf("resumed offsets %d, %d after %d", m1.Offset, m2.Offset, ev.Offset)
			}

			// A client with an unknown epoch gets a reset to the current offset.
			c3 := f.e.Hub().NewConn(64)
			defer c3.Close(1000, "")
			if err := c3.Subscribe(ctx, engine.FeedChannel, &engine.Since{Offset: 1, Epoch: "gone"}); err != nil {
				t.Fatal(err)
			}
			if r := next(t, c3, "reset"); r.Offset != m2.Offset || r.Epoch != ev.Epoch {
				t.Fatalf("reset = %+v, want offset %d epoch %s", r, m2.Offset, ev.Epoch)
			}
		})
	}
}

func TestHubDisconnectsSlowClient(t *testing.T) {
	f := newFixture(t, backends()[0])
	ctx := context.Background()
	fast := f.e.Hub().NewConn(64)
	defer fast.Close(1000, "")
	slow := f.e.Hub().NewConn(2) // never read
	defer slow.Close(1000, "")
	for _, c := range []*engine.Conn{fast, slow} {
		if err := c.Subscribe(ctx, engine.FeedChannel, nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		f.deal(t, game.DealInput{ExternalID: "SL-" + string(rune('a'+i)), Version: 1, RepID: f.reps[0].ID, Amount: "1.00", Stage: "won", CloseTime: "2026-11-28T09:00:00Z"}, "")
	}
	select {
	case <-slow.Done():
		if code, _ := slow.CloseStatus(); code != engine.CloseSlow {
			t.Fatalf("slow client closed with %d, want %d", code, engine.CloseSlow)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a client that does not read was not disconnected")
	}
	for range 3 {
		next(t, fast, "event") // the fast client got everything
	}
}

// TestRevokeClosesOwnedConnections: revoking a credential closes, with
// 4001, exactly the connections opened with it.
func TestRevokeClosesOwnedConnections(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b)
			tv := f.e.Hub().NewConn(8)
			tv.SetOwners("token:7")
			phone := f.e.Hub().NewConn(8)
			phone.SetOwners("user:3", "session:abc")
			defer tv.Close(1000, "")
			defer phone.Close(1000, "")
			if err := f.e.Revoke(t.Context(), "token:7"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-tv.Done():
				if code, _ := tv.CloseStatus(); code != engine.CloseUnauthorized {
					t.Errorf("revoked connection closed with %d, want %d", code, engine.CloseUnauthorized)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the revoked token's connection stayed open")
			}
			select {
			case <-phone.Done():
				t.Fatal("another credential's connection was closed")
			case <-time.After(50 * time.Millisecond):
			}
			if err := f.e.Revoke(t.Context(), "session:abc"); err != nil {
				t.Fatal(err)
			}
			<-phone.Done()
		})
	}
}
