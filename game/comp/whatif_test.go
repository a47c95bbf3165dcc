package comp_test

import (
	"testing"

	"podium/game"
	"podium/game/comp"
)

func TestWhatIf(t *testing.T) {
	p := planWith(commission(comp.Marginal, exampleTiers()),
		comp.Component{Kind: comp.KindBonus, Name: "club", Steps: []comp.Step{{At: dec("100"), Amount: dec("1000")}}})
	s := comp.StateOf(dec("33000"), deal("what-if", "30000"))
	proj, err := comp.WhatIf(p, s, dec("5000"))
	if err != nil {
		t.Fatal(err)
	}
	// 3,000 at 10 % and 2,000 at 12 %, and the quota bonus.
	wantEqual(t, "gain", proj.Gain, dec("1540"))
	wantEqual(t, "earned", proj.Earned, dec("2175"))
	wantEqual(t, "projected", proj.Projected, dec("3715"))
	if want := "12 % on 2,000.00 from 100 % to 150 %, 10 % on 3,000.00 from 50 % to 100 %: 540.00 if you close 5,000.00 more"; proj.Lines[0].Trace.Text != want {
		t.Errorf("text\n got %q\nwant %q", proj.Lines[0].Trace.Text, want)
	}
	_, err = comp.WhatIf(p, s, dec("-1"))
	wantError(t, err, game.EInvalid, "extra")
	_, err = comp.WhatIfDeal(p, s, deal("what-if", "1"))
	wantError(t, err, game.EInvalid, "id")
}

func TestNextStep(t *testing.T) {
	p := planWith(commission(comp.Marginal, exampleTiers()),
		comp.Component{Kind: comp.KindBonus, Name: "club", Steps: []comp.Step{{At: dec("100"), Amount: dec("1000")}}})
	next, err := comp.NextStep(p, comp.StateOf(dec("33000"), deal("a", "30000")))
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "distance", next.Distance, dec("3000"))
	wantEqual(t, "gain", next.Gain, dec("1300"))
	if len(next.Unlocks) != 2 || next.Unlocks[0].What != "tier" || next.Unlocks[1].What != "bonus" {
		t.Errorf("unlocks %+v", next.Unlocks)
	}
	if want := "3,000.00 more to reach quota: 12 % on credit from 100 % to 150 %, 1,000.00 bonus (1,300.00 more pay)"; next.Text != want {
		t.Errorf("text\n got %q\nwant %q", next.Text, want)
	}
	// Exactly at a threshold, the next one is the one above.
	next, err = comp.NextStep(p, comp.StateOf(dec("33000"), deal("a", "33000")))
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "at quota, next at", next.At, dec("150"))
	// A threshold between cents is reached by the next whole cent.
	next, err = comp.NextStep(p, comp.StateOf(dec("10000.01")))
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "distance to 5,000.005", next.Distance, dec("5000.01"))
	// Above every threshold there is nothing next.
	next, err = comp.NextStep(p, comp.StateOf(dec("33000"), deal("a", "60000")))
	if err != nil || next != nil {
		t.Errorf("NextStep above all = %+v, %v; want nil", next, err)
	}
	_, err = comp.NextStep(p, comp.State{})
	wantError(t, err, game.EInvalid, "state.quota")
}
