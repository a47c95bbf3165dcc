package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"podium/engine"
	"podium/game"
	"podium/game/comp"
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

// seedDemo creates the demo company (3 teams, 20 reps) unless reps exist,
// with a month of history so far (won deals and activities up to now), so the
// boards have something to show from the first second.
func seedDemo(ctx context.Context, e *engine.Engine, out io.Writer, now time.Time) error {
	reps, err := e.Reps(ctx)
	if err != nil {
		return err
	}
	if len(reps) > 0 {
		return nil
	}
	teams := make([]game.Team, len(demoTeams))
	for i, name := range demoTeams {
		if teams[i], err = e.CreateTeam(ctx, game.Team{Name: name}, game.ActorSystem); err != nil {
			return err
		}
	}
	var created []game.Rep
	for i, name := range demoReps {
		r, err := e.CreateRep(ctx, game.Rep{Name: name, TeamID: teams[i%len(teams)].ID}, game.ActorSystem)
		if err != nil {
			return err
		}
		created = append(created, r)
	}
	rng := rand.New(rand.NewPCG(uint64(now.UnixNano()), 11))
	if err := seedDemoPay(ctx, e, teams, created, now, rng); err != nil {
		return err
	}
	// History: deals and activities spread over the month so far, in one
	// batch (one transaction).
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	span := now.Sub(start)
	if span < time.Hour {
		span = time.Hour
	}
	var items []engine.BatchItem
	for i := range 120 {
		rep := created[rng.IntN(len(created))]
		at := now.Add(-time.Duration(rng.Int64N(int64(span)))).UTC().Format(time.RFC3339)
		id := "seed-" + strconv.Itoa(i)
		if i%3 == 0 {
			items = append(items, engine.BatchItem{Type: "deal", Deal: randomDeal(rng, id, rep.ID, at)})
		} else {
			items = append(items, engine.BatchItem{Type: "activity", Activity: randomActivity(rng, id, rep.ID, at)})
		}
	}
	if _, err := e.IngestBatch(ctx, items, ""); err != nil {
		return err
	}
	fmt.Fprintf(out, "demo company created: %d teams, %d reps, %d past deals and activities\n", len(teams), len(demoReps), len(items))
	return nil
}

// seedDemoPay puts every demo team on a commission plan with a quota for
// this month, so statements and live earnings have something to show.
func seedDemoPay(ctx context.Context, e *engine.Engine, teams []game.Team, reps []game.Rep, now time.Time, rng *rand.Rand) error {
	cs := e.Comp()
	if cs == nil {
		return nil
	}
	cur := e.Config().Currency
	d := decimal.RequireFromString
	plan := comp.Plan{
		ID: "demo-ae", Name: "Account executives (demo)", Version: 1, Currency: cur, Period: game.PeriodMonth,
		EffectiveFrom: fmt.Sprintf("%d-01-01", now.Year()), Rounding: comp.Rounding{Mode: comp.HalfUp, Where: comp.OnTotal},
		Components: []comp.Component{
			{Kind: comp.KindCommission, Name: "commission", Mode: comp.Marginal,
				Tiers: []comp.Tier{{From: d("0"), Rate: d("5")}, {From: d("50"), Rate: d("10")}, {From: d("100"), Rate: d("12")}, {From: d("150"), Rate: d("15")}}},
			{Kind: comp.KindSpiff, Name: "platform spiff", Amount: d("250"), Products: []string{"Platform"}},
			{Kind: comp.KindBonus, Name: "quota club", Steps: []comp.Step{{At: d("100"), Amount: d("1000")}}},
		},
	}
	if err := cs.PutPlan(ctx, plan, game.ActorSystem); err != nil {
		return err
	}
	for _, t := range teams {
		if _, err := cs.PutAssignment(ctx, engine.Assignment{PlanID: plan.ID, TeamID: t.ID, From: plan.EffectiveFrom}, game.ActorSystem); err != nil {
			return err
		}
	}
	month, err := game.PeriodMonth.Instance(game.Day(now, e.Config().Location))
	if err != nil {
		return err
	}
	for _, r := range reps {
		q := comp.Quota{RepID: r.ID, Period: game.PeriodMonth, Instance: month, Currency: cur, Amount: decimal.NewFromInt(int64(60+rng.IntN(60)) * 1000)}
		if err := cs.PutQuota(ctx, q, game.ActorSystem); err != nil {
			return err
		}
	}
	return e.CompChanged(ctx)
}

var demoKinds = []string{"call", "call", "call", "email", "email", "meeting", "demo"}

func randomDeal(rng *rand.Rand, id string, rep int64, at string) *game.DealInput {
	amount := 1000 + rng.IntN(24000)
	if rng.IntN(8) == 0 {
		amount *= 4
	}
	product := demoProducts[rng.IntN(len(demoProducts))]
	return &game.DealInput{
		Source: "demo", ExternalID: "deal-" + id, Version: 1,
		Name: demoCompanies[rng.IntN(len(demoCompanies))] + " " + product, Product: product,
		RepID: rep, Amount: fmt.Sprintf("%d.%02d", amount, rng.IntN(100)), Stage: "won", CloseTime: at,
	}
}

func randomActivity(rng *rand.Rand, id string, rep int64, at string) *game.ActivityInput {
	return &game.ActivityInput{
		Source: "demo", ExternalID: "act-" + id, RepID: rep,
		Kind: demoKinds[rng.IntN(len(demoKinds))], Count: int64(1 + rng.IntN(3)), OccurredAt: at,
	}
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
			_, err = e.IngestDeal(ctx, *randomDeal(rng, id, rep.ID, now), "")
		} else {
			_, err = e.IngestActivity(ctx, *randomActivity(rng, id, rep.ID, now), "")
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("demo event", "err", err)
		}
	}
}
