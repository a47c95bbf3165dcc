package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"podium/engine"
	"podium/game"
)

var demoTeams = []string{"Enterprise", "Mid-Market", "SMB"}

var demoReps = []string{
	"Ana Lima", "Ben Okafor", "Chloé Martin", "Dev Patel", "Elena Rossi",
	"Farah Haddad", "Gus Novak", "Hana Sato", "Ivan Petrov", "Jade Nguyen",
	"Kofi Mensah", "Lena Fischer", "Mateo García", "Nora Berg", "Omar Aziz",
	"Priya Rao", "Quinn Walsh", "Rosa Costa", "Sam Carter", "Tara Singh",
}

var demoProducts = []string{"Platform", "Analytics add-on", "Support plan", "Onboarding"}
var demoCompanies = []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Soylent", "Tyrell", "Cyberdyne", "Aperture"}

// seedDemo creates the demo company (3 teams, 20 reps) unless reps exist.
func seedDemo(ctx context.Context, e *engine.Engine, out io.Writer) error {
	reps, err := e.Reps(ctx)
	if err != nil {
		return err
	}
	if len(reps) > 0 {
		return nil
	}
	teams := make([]game.Team, len(demoTeams))
	for i, name := range demoTeams {
		if teams[i], err = e.CreateTeam(ctx, game.Team{Name: name}); err != nil {
			return err
		}
	}
	for i, name := range demoReps {
		if _, err := e.CreateRep(ctx, game.Rep{Name: name, TeamID: teams[i%len(teams)].ID}); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "demo company created: %d teams, %d reps\n", len(teams), len(demoReps))
	return nil
}

// simulate posts realistic deals and activities for the demo until ctx ends:
// mostly activities, a won deal every few events, now and then a bigger one.
func simulate(ctx context.Context, e *engine.Engine, every time.Duration, log *slog.Logger) {
	reps, err := e.Reps(ctx)
	if err != nil || len(reps) == 0 {
		return
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	t := time.NewTicker(every)
	defer t.Stop()
	seq := time.Now().Unix()
	kinds := []string{"call", "call", "call", "email", "email", "meeting", "demo"}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		seq++
		rep := reps[rng.IntN(len(reps))]
		now := time.Now().UTC().Format(time.RFC3339)
		id := strconv.FormatInt(seq, 10)
		var err error
		if rng.IntN(3) == 0 {
			amount := 1000 + rng.IntN(24000)
			if rng.IntN(8) == 0 {
				amount *= 4
			}
			company := demoCompanies[rng.IntN(len(demoCompanies))]
			_, err = e.IngestDeal(ctx, game.DealInput{
				Source: "demo", ExternalID: "deal-" + id, Version: 1,
				Name: company + " " + demoProducts[rng.IntN(len(demoProducts))], Product: demoProducts[rng.IntN(len(demoProducts))],
				RepID: rep.ID, Amount: fmt.Sprintf("%d.%02d", amount, rng.IntN(100)), Stage: "won", CloseTime: now,
			}, "")
		} else {
			_, err = e.IngestActivity(ctx, game.ActivityInput{
				Source: "demo", ExternalID: "act-" + id, RepID: rep.ID,
				Kind: kinds[rng.IntN(len(kinds))], Count: int64(1 + rng.IntN(3)), OccurredAt: now,
			}, "")
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("demo event", "err", err)
		}
	}
}
