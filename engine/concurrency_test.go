package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"podium/game"
)

// TestConcurrentIngest sends many deals at once: group commit, the pipelined
// applier and the board updates must neither lose nor double count any.
func TestConcurrentIngest(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			f := newFixture(t, b)
			const workers, each = 32, 20
			var wg sync.WaitGroup
			errs := make(chan error, workers*each)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						rep := f.reps[(w+i)%len(f.reps)].ID
						in := game.DealInput{ExternalID: fmt.Sprintf("C-%d-%d", w, i), Version: 1, RepID: rep, Amount: "1.00", Stage: "won", CloseTime: "2026-11-28T09:00:00Z"}
						if _, err := f.e.IngestDeal(context.Background(), in, ""); err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			var total int64
			for _, r := range f.reps {
				total += f.score(t, "deals:all:all:company", r.ID)
			}
			if total != workers*each {
				t.Fatalf("deals on the board = %d, want %d", total, workers*each)
			}
			f.boardsEqualLedger(t)
		})
	}
}
