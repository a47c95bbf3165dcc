package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"podium/engine"
	"podium/game"
)

// Bench measures the typical ingest transaction of a won deal: look the event
// up, load the reps, read the deal for update, store it, append three ledger
// rows, add an outbox row and store the event. As the ingest pipeline does,
// the transaction first prefetches the events and deals of all its events.
// ns/op is per event in both sub-benchmarks:
//
//   - PerEvent commits each event on its own;
//   - Group64 commits 64 events per transaction (group commit), as the
//     ingest pipeline does under load.
//
// open must return a Store on a fresh, migrated, empty database.
func Bench(b *testing.B, open func(b *testing.B) engine.Store) {
	for _, group := range []int{1, 64} {
		name := "PerEvent"
		if group > 1 {
			name = fmt.Sprintf("Group%d", group)
		}
		b.Run(name, func(b *testing.B) {
			s := open(b)
			c := b.Context()
			team, reps := seedReps(b, s, 3)
			ids := []int64{reps[0].ID, reps[1].ID, reps[2].ID}
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n += group {
				err := s.InTx(c, func(tx engine.Tx) error {
					keys := make([]string, 0, group)
					deals := make([]engine.DealRef, 0, group)
					for i := n; i < min(n+group, b.N); i++ {
						key := fmt.Sprintf("crm/opp-%d/1", i)
						keys = append(keys, key)
						deals = append(deals, engine.DealRef{Source: "crm", ExternalID: key})
					}
					if err := tx.Prefetch(c, keys, deals); err != nil {
						return err
					}
					for _, key := range keys {
						if err := ingestOne(c, tx, key, team.ID, ids); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var benchPayload = []byte(`{"kind":"deal","deltas":[{"board":"revenue:month:2026-11:all","rep_id":1,"delta":125000}]}`)

func ingestOne(c context.Context, tx engine.Tx, key string, teamID int64, repIDs []int64) error {
	if e, err := tx.Event(c, key); err != nil || e != nil {
		return fmt.Errorf("event %s: %v, %v", key, e, err)
	}
	reps, err := tx.Reps(c, repIDs[:1])
	if err != nil {
		return err
	}
	rep := reps[repIDs[0]]
	d, err := tx.Deal(c, "crm", key)
	if err != nil || d != nil {
		return fmt.Errorf("deal %s: %v, %v", key, d, err)
	}
	amount := decimal.New(125000, -2)
	state := engine.DealState{
		Deal: game.Deal{
			Source: "crm", ExternalID: key, Version: 1, Name: "Acme",
			Splits: []game.Split{{RepID: rep.ID, Share: decimal.NewFromInt(1)}},
			Amount: amount, Currency: "USD", Stage: game.StageWon, CloseTime: t0,
		},
		Credits:  []game.Credit{{RepID: rep.ID, TeamID: teamID, Day: "2026-11-28", Minor: 125000}},
		EventKey: key,
	}
	if err := tx.PutDeal(c, state); err != nil {
		return err
	}
	if err := tx.AppendLedger(c, key, t0, []game.LedgerEntry{
		{RepID: rep.ID, TeamID: teamID, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: 125000, Amount: &amount, Reason: "deal won", DealID: "crm/" + key},
		{RepID: rep.ID, TeamID: teamID, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1, Reason: "deal won", DealID: "crm/" + key},
		{RepID: rep.ID, TeamID: teamID, Metric: game.MetricPoints, Day: "2026-11-28", Delta: 101, Reason: "deal won", DealID: "crm/" + key},
	}); err != nil {
		return err
	}
	if err := tx.AddOutbox(c, key, benchPayload, t0); err != nil {
		return err
	}
	return tx.PutEvent(c, engine.StoredEvent{
		Key: key, Kind: "deal", Hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Status: 201, Response: []byte(`{"status":"credited"}`), At: time.Now(),
	})
}
