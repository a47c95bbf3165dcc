package game_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"podium/game"
)

// validDeal is a deal every case below breaks in exactly one way.
func validDeal() game.DealInput {
	return game.DealInput{
		Source:     "hubspot",
		ExternalID: "opp-1",
		Version:    3,
		Name:       "Acme renewal",
		RepID:      7,
		Amount:     "1250.00",
		Currency:   "USD",
		Stage:      "won",
		CloseTime:  "2026-11-28T15:04:05Z",
		Product:    "platform",
	}
}

func splits(pairs ...any) []game.SplitInput {
	var out []game.SplitInput
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, game.SplitInput{RepID: int64(pairs[i].(int)), Share: pairs[i+1].(string)})
	}
	return out
}

func TestValidateDealAccepts(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*game.DealInput)
		currency string
		check    func(t *testing.T, d game.Deal)
	}{
		{"complete", func(*game.DealInput) {}, "USD", func(t *testing.T, d game.Deal) {
			want := game.Deal{Source: "hubspot", ExternalID: "opp-1", Version: 3, Name: "Acme renewal", Currency: "USD", Stage: game.StageWon, Product: "platform"}
			if d.Source != want.Source || d.ExternalID != want.ExternalID || d.Version != want.Version || d.Name != want.Name ||
				d.Currency != want.Currency || d.Stage != want.Stage || d.Product != want.Product {
				t.Errorf("deal = %+v", d)
			}
			if !d.Amount.Equal(dec("1250")) {
				t.Errorf("amount = %s", d.Amount)
			}
			if !d.CloseTime.Equal(mustTime(t, "2026-11-28T15:04:05Z")) {
				t.Errorf("close time = %s", d.CloseTime)
			}
			if len(d.Splits) != 1 || d.Splits[0].RepID != 7 || !d.Splits[0].Share.Equal(decimal.NewFromInt(1)) {
				t.Errorf("rep_id becomes one split of share 1: %+v", d.Splits)
			}
		}},
		{"default source", func(in *game.DealInput) { in.Source = "" }, "USD", func(t *testing.T, d game.Deal) {
			if game.DefaultSource != "api" || d.Source != "api" {
				t.Errorf("source = %q, want api", d.Source)
			}
		}},
		{"default currency", func(in *game.DealInput) { in.Currency = "" }, "USD", func(t *testing.T, d game.Deal) {
			if d.Currency != "USD" {
				t.Errorf("currency = %q, want the company's", d.Currency)
			}
		}},
		{"company currency JPY by default", func(in *game.DealInput) { in.Currency = ""; in.Amount = "150000" }, "JPY", func(t *testing.T, d game.Deal) {
			if d.Currency != "JPY" || !d.Amount.Equal(dec("150000")) {
				t.Errorf("deal = %s %s", d.Amount, d.Currency)
			}
		}},
		{"KWD fils", func(in *game.DealInput) { in.Currency = "KWD"; in.Amount = "10.125" }, "KWD", func(t *testing.T, d game.Deal) {
			if !d.Amount.Equal(dec("10.125")) {
				t.Errorf("amount = %s", d.Amount)
			}
		}},
		{"close time in UTC", func(in *game.DealInput) { in.CloseTime = "2026-11-28T22:30:00.5-05:00" }, "USD", func(t *testing.T, d game.Deal) {
			if want := time.Date(2026, 11, 29, 3, 30, 0, 5e8, time.UTC); d.CloseTime != want {
				t.Errorf("close time = %v, want %v", d.CloseTime, want)
			}
		}},
		{"open without close time", func(in *game.DealInput) { in.Stage = "open"; in.CloseTime = "" }, "USD", func(t *testing.T, d game.Deal) {
			if d.Stage != game.StageOpen || !d.CloseTime.IsZero() {
				t.Errorf("deal = %s at %v", d.Stage, d.CloseTime)
			}
		}},
		{"lost without close time", func(in *game.DealInput) { in.Stage = "lost"; in.CloseTime = "" }, "USD", func(t *testing.T, d game.Deal) {
			if d.Stage != game.StageLost {
				t.Errorf("stage = %s", d.Stage)
			}
		}},
		{"zero amount", func(in *game.DealInput) { in.Amount = "0" }, "USD", func(t *testing.T, d game.Deal) {
			if !d.Amount.IsZero() {
				t.Errorf("amount = %s", d.Amount)
			}
		}},
		{"thirds-style split sums to exactly 1", func(in *game.DealInput) {
			in.RepID = 0
			in.Splits = splits(1, "0.3333", 2, "0.3333", 3, "0.3334")
		}, "USD", func(t *testing.T, d game.Deal) {
			if len(d.Splits) != 3 || d.Splits[0].RepID != 1 || d.Splits[2].RepID != 3 || !d.Splits[2].Share.Equal(dec("0.3334")) {
				t.Errorf("splits = %+v", d.Splits)
			}
		}},
		{"shares equal in value", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "0.50", 2, ".5") }, "USD", func(t *testing.T, d game.Deal) {
			if len(d.Splits) != 2 || !d.Splits[1].Share.Equal(dec("0.5")) {
				t.Errorf("splits = %+v", d.Splits)
			}
		}},
		{"twenty splits", func(in *game.DealInput) {
			in.RepID = 0
			for i := 1; i <= game.MaxSplits; i++ {
				in.Splits = append(in.Splits, game.SplitInput{RepID: int64(i), Share: "0.05"})
			}
		}, "USD", func(t *testing.T, d game.Deal) {
			if len(d.Splits) != 20 {
				t.Errorf("%d splits", len(d.Splits))
			}
		}},
		{"longest ids", func(in *game.DealInput) {
			in.Source = strings.Repeat("s", game.MaxIDLength)
			in.ExternalID = strings.Repeat("x", game.MaxIDLength)
			in.Name = strings.Repeat("n", 500)
			in.Product = strings.Repeat("p", game.MaxIDLength)
		}, "USD", func(t *testing.T, d game.Deal) {
			if len(d.ExternalID) != game.MaxIDLength || len(d.Name) != 500 {
				t.Errorf("deal = %+v", d)
			}
		}},
		{"earliest close time", func(in *game.DealInput) { in.CloseTime = "0001-01-02T00:00:00Z" }, "USD", func(t *testing.T, d game.Deal) {
			if d.CloseTime.Year() != 1 || d.CloseTime.IsZero() {
				t.Errorf("close time = %v", d.CloseTime)
			}
		}},
		{"latest close time", func(in *game.DealInput) { in.CloseTime = "9999-12-30T23:59:59Z" }, "USD", func(t *testing.T, d game.Deal) {
			if d.CloseTime.Year() != 9999 {
				t.Errorf("close time = %v", d.CloseTime)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validDeal()
			tt.edit(&in)
			d, err := game.ValidateDeal(in, tt.currency)
			if err != nil {
				t.Fatalf("ValidateDeal = %v", err)
			}
			tt.check(t, d)
		})
	}
}

func TestValidateDealRefuses(t *testing.T) {
	tests := []struct {
		name        string
		edit        func(*game.DealInput)
		code, field string
	}{
		{"blank source", func(in *game.DealInput) { in.Source = "  " }, game.EMissingField, "source"},
		{"long source", func(in *game.DealInput) { in.Source = strings.Repeat("s", game.MaxIDLength+1) }, game.EInvalid, "source"},
		{"no external id", func(in *game.DealInput) { in.ExternalID = "" }, game.EMissingField, "external_id"},
		{"blank external id", func(in *game.DealInput) { in.ExternalID = "\t" }, game.EMissingField, "external_id"},
		{"long external id", func(in *game.DealInput) { in.ExternalID = strings.Repeat("x", game.MaxIDLength+1) }, game.EInvalid, "external_id"},
		{"no version", func(in *game.DealInput) { in.Version = 0 }, game.EMissingField, "version"},
		{"negative version", func(in *game.DealInput) { in.Version = -4 }, game.EMissingField, "version"},
		{"long name", func(in *game.DealInput) { in.Name = strings.Repeat("n", 501) }, game.EInvalid, "name"},
		{"long product", func(in *game.DealInput) { in.Product = strings.Repeat("p", game.MaxIDLength+1) }, game.EInvalid, "product"},
		{"no stage", func(in *game.DealInput) { in.Stage = "" }, game.EMissingField, "stage"},
		{"unknown stage", func(in *game.DealInput) { in.Stage = "closed" }, game.EInvalid, "stage"},
		{"upper-case stage", func(in *game.DealInput) { in.Stage = "WON" }, game.EInvalid, "stage"},
		{"other supported currency", func(in *game.DealInput) { in.Currency = "EUR" }, game.ECurrency, "currency"},
		{"unsupported currency", func(in *game.DealInput) { in.Currency = "XBT" }, game.ECurrency, "currency"},
		{"lower-case currency", func(in *game.DealInput) { in.Currency = "usd" }, game.ECurrency, "currency"},
		{"no amount", func(in *game.DealInput) { in.Amount = "" }, game.EMissingField, "amount"},
		{"no amount on an open deal", func(in *game.DealInput) { in.Amount = ""; in.Stage = "open" }, game.EMissingField, "amount"},
		{"negative amount", func(in *game.DealInput) { in.Amount = "-1250.00" }, game.EInvalid, "amount"},
		{"exponent amount", func(in *game.DealInput) { in.Amount = "1e400" }, game.EInvalid, "amount"},
		{"fraction of a cent", func(in *game.DealInput) { in.Amount = "1250.001" }, game.EInvalid, "amount"},
		{"over max amount", func(in *game.DealInput) { in.Amount = "1000000000000.01" }, game.EInvalid, "amount"},
		{"won without close time", func(in *game.DealInput) { in.CloseTime = "" }, game.EMissingField, "close_time"},
		{"date only", func(in *game.DealInput) { in.CloseTime = "2026-11-28" }, game.EInvalid, "close_time"},
		{"no zone", func(in *game.DealInput) { in.CloseTime = "2026-11-28T15:04:05" }, game.EInvalid, "close_time"},
		{"bad close time on an open deal", func(in *game.DealInput) { in.Stage = "open"; in.CloseTime = "soon" }, game.EInvalid, "close_time"},
		{"year 10000 locally", func(in *game.DealInput) { in.CloseTime = "9999-12-31T23:00:00-05:00" }, game.EInvalid, "close_time"},
		{"year -1 locally", func(in *game.DealInput) { in.CloseTime = "0000-01-01T00:00:00+01:00" }, game.EInvalid, "close_time"},
		{"zero time", func(in *game.DealInput) { in.CloseTime = "0001-01-01T00:00:00Z" }, game.EInvalid, "close_time"},
		{"rep_id and splits", func(in *game.DealInput) { in.Splits = splits(1, "1") }, game.EInvalid, "splits"},
		{"negative rep_id", func(in *game.DealInput) { in.RepID = -7 }, game.EInvalid, "rep_id"},
		{"no rep", func(in *game.DealInput) { in.RepID = 0 }, game.EMissingField, "rep_id"},
		{"empty splits", func(in *game.DealInput) { in.RepID = 0; in.Splits = []game.SplitInput{} }, game.EMissingField, "rep_id"},
		{"too many splits", func(in *game.DealInput) {
			in.RepID = 0
			for i := 1; i <= game.MaxSplits+1; i++ {
				in.Splits = append(in.Splits, game.SplitInput{RepID: int64(i), Share: "0.05"})
			}
		}, game.EInvalid, "splits"},
		{"split without rep", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "0.5", 0, "0.5") }, game.EMissingField, "splits[1].rep_id"},
		{"split with negative rep", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(-1, "1") }, game.EMissingField, "splits[0].rep_id"},
		{"duplicate rep", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "0.3", 2, "0.3", 1, "0.4") }, game.EInvalid, "splits[2].rep_id"},
		{"exponent share", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "5e-1", 2, "0.5") }, game.EInvalid, "splits[0].share"},
		{"plus share", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "0.5", 2, "+0.5") }, game.EInvalid, "splits[1].share"},
		{"long share", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "0.500000000000000000000", 2, "0.5") }, game.EInvalid, "splits[0].share"},
		{"word share", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "half", 2, "0.5") }, game.EInvalid, "splits[0].share"},
		{"empty share", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "", 2, "1") }, game.EInvalid, "splits[0].share"},
		{"zero share", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "0", 2, "1") }, game.EInvalid, "splits[0].share"},
		{"negative share", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "1.5", 2, "-0.5") }, game.EInvalid, "splits[0].share"},
		{"share over one", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "0.5", 2, "1.01") }, game.EInvalid, "splits[1].share"},
		{"shares sum to 0.999", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "0.333", 2, "0.333", 3, "0.333") }, game.EInvalid, "splits"},
		{"shares sum to 0.9999", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "0.3333", 2, "0.3333", 3, "0.3333") }, game.EInvalid, "splits"},
		{"shares sum over 1", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "0.5", 2, "0.6") }, game.EInvalid, "splits"},
		{"single share under 1", func(in *game.DealInput) { in.RepID = 0; in.Splits = splits(1, "0.5") }, game.EInvalid, "splits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := validDeal()
			tt.edit(&in)
			d, err := game.ValidateDeal(in, "USD")
			wantError(t, err, tt.code, tt.field)
			if d.ExternalID != "" || d.Splits != nil {
				t.Errorf("refused deal returned %+v", d)
			}
		})
	}
}

func TestValidateActivity(t *testing.T) {
	valid := func() game.ActivityInput {
		return game.ActivityInput{Source: "dialer", ExternalID: "call-9", RepID: 7, Kind: "call", Count: 2, OccurredAt: "2026-11-28T23:30:00-05:00"}
	}
	a, err := game.ValidateActivity(valid())
	if err != nil {
		t.Fatal(err)
	}
	want := game.Activity{Source: "dialer", ExternalID: "call-9", RepID: 7, Kind: game.ActivityCall, Count: 2, OccurredAt: time.Date(2026, 11, 29, 4, 30, 0, 0, time.UTC)}
	if a != want {
		t.Errorf("ValidateActivity = %+v, want %+v", a, want)
	}

	defaults := valid()
	defaults.Source, defaults.Count, defaults.Kind = "", 0, "demo"
	a, err = game.ValidateActivity(defaults)
	if err != nil {
		t.Fatal(err)
	}
	if a.Source != "api" || a.Count != 1 || a.Kind != game.ActivityDemo {
		t.Errorf("defaults: %+v, want source api, count 1", a)
	}
	for _, k := range []string{"call", "email", "meeting", "demo"} {
		in := valid()
		in.Kind = k
		if _, err := game.ValidateActivity(in); err != nil {
			t.Errorf("kind %s: %v", k, err)
		}
	}
	most := valid()
	most.Count = game.MaxActivityCount
	if a, err := game.ValidateActivity(most); err != nil || a.Count != game.MaxActivityCount {
		t.Errorf("count %d: %+v, %v", game.MaxActivityCount, a, err)
	}

	tests := []struct {
		name        string
		edit        func(*game.ActivityInput)
		code, field string
	}{
		{"blank source", func(in *game.ActivityInput) { in.Source = " " }, game.EMissingField, "source"},
		{"long source", func(in *game.ActivityInput) { in.Source = strings.Repeat("s", game.MaxIDLength+1) }, game.EInvalid, "source"},
		{"no external id", func(in *game.ActivityInput) { in.ExternalID = "" }, game.EMissingField, "external_id"},
		{"long external id", func(in *game.ActivityInput) { in.ExternalID = strings.Repeat("x", game.MaxIDLength+1) }, game.EInvalid, "external_id"},
		{"no rep", func(in *game.ActivityInput) { in.RepID = 0 }, game.EMissingField, "rep_id"},
		{"negative rep", func(in *game.ActivityInput) { in.RepID = -1 }, game.EMissingField, "rep_id"},
		{"no kind", func(in *game.ActivityInput) { in.Kind = "" }, game.EMissingField, "kind"},
		{"unknown kind", func(in *game.ActivityInput) { in.Kind = "lunch" }, game.EInvalid, "kind"},
		{"upper-case kind", func(in *game.ActivityInput) { in.Kind = "Call" }, game.EInvalid, "kind"},
		{"negative count", func(in *game.ActivityInput) { in.Count = -1 }, game.EInvalid, "count"},
		{"count over max", func(in *game.ActivityInput) { in.Count = game.MaxActivityCount + 1 }, game.EInvalid, "count"},
		{"no time", func(in *game.ActivityInput) { in.OccurredAt = "" }, game.EMissingField, "occurred_at"},
		{"bad time", func(in *game.ActivityInput) { in.OccurredAt = "yesterday" }, game.EInvalid, "occurred_at"},
		{"out-of-range time", func(in *game.ActivityInput) { in.OccurredAt = "9999-12-31T20:00:00-08:00" }, game.EInvalid, "occurred_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.edit(&in)
			a, err := game.ValidateActivity(in)
			wantError(t, err, tt.code, tt.field)
			if a != (game.Activity{}) {
				t.Errorf("refused activity returned %+v", a)
			}
		})
	}
}

func TestActivityLedger(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	tests := []struct {
		kind   game.ActivityKind
		count  int64
		points int64
	}{
		{game.ActivityCall, 3, 3},
		{game.ActivityEmail, 1, 1},
		{game.ActivityMeeting, 2, 10},
		{game.ActivityDemo, 4, 40},
	}
	for _, tt := range tests {
		a := game.Activity{RepID: 7, Kind: tt.kind, Count: tt.count, OccurredAt: mustTime(t, "2026-12-01T03:00:00Z")}
		got := game.ActivityLedger(a, 4, ny)
		want := []game.LedgerEntry{
			{RepID: 7, TeamID: 4, Metric: game.MetricActivities, Day: "2026-11-30", Delta: tt.count, Reason: string(tt.kind)},
			{RepID: 7, TeamID: 4, Metric: game.MetricPoints, Day: "2026-11-30", Delta: tt.points, Reason: string(tt.kind)},
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: ActivityLedger = %+v, want %+v", tt.kind, got, want)
		}
	}
}

func wonDeal(t *testing.T, amount, closeTime string, sp ...game.Split) game.Deal {
	t.Helper()
	if len(sp) == 0 {
		sp = []game.Split{{RepID: 7, Share: decimal.NewFromInt(1)}}
	}
	return game.Deal{Source: "crm", ExternalID: "opp-1", Version: 1, Splits: sp, Amount: dec(amount), Currency: "USD", Stage: game.StageWon, CloseTime: mustTime(t, closeTime)}
}

func TestCredits(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	teams := map[int64]int64{1: 10, 2: 20}

	d := wonDeal(t, "1250.00", "2026-12-01T03:00:00Z")
	if got, want := game.Credits(d, map[int64]int64{7: 3}, ny), []game.Credit{{RepID: 7, TeamID: 3, Day: "2026-11-30", Minor: 125000}}; !slices.Equal(got, want) {
		t.Errorf("Credits = %+v, want %+v", got, want)
	}
	if got := game.Credits(d, nil, time.UTC); len(got) != 1 || got[0].TeamID != 0 || got[0].Day != "2026-12-01" {
		t.Errorf("rep without a team, UTC: %+v", got)
	}
	for _, st := range []game.Stage{game.StageOpen, game.StageLost} {
		d := d
		d.Stage = st
		if got := game.Credits(d, teams, ny); got != nil {
			t.Errorf("%s deal credits %+v", st, got)
		}
	}

	split := wonDeal(t, "100.01", "2026-11-28T12:00:00Z",
		game.Split{RepID: 1, Share: dec("0.3333")}, game.Split{RepID: 2, Share: dec("0.3333")}, game.Split{RepID: 3, Share: dec("0.3334")})
	got := game.Credits(split, teams, ny)
	want := []game.Credit{
		{RepID: 1, TeamID: 10, Day: "2026-11-28", Minor: 3333},
		{RepID: 2, TeamID: 20, Day: "2026-11-28", Minor: 3333},
		{RepID: 3, TeamID: 0, Day: "2026-11-28", Minor: 3335},
	}
	if !slices.Equal(got, want) {
		t.Errorf("split Credits = %+v, want %+v", got, want)
	}
	var sum int64
	for _, c := range got {
		sum += c.Minor
	}
	if sum != 10001 {
		t.Errorf("split credits sum to %d cents, want all 10001", sum)
	}

	jpy := wonDeal(t, "150000", "2026-11-28T12:00:00Z")
	jpy.Currency = "JPY"
	if got := game.Credits(jpy, nil, time.UTC); got[0].Minor != 150000 {
		t.Errorf("JPY credit = %d minor, want 150000 yen", got[0].Minor)
	}
	kwd := wonDeal(t, "12.345", "2026-11-28T12:00:00Z")
	kwd.Currency = "KWD"
	if got := game.Credits(kwd, nil, time.UTC); got[0].Minor != 12345 {
		t.Errorf("KWD credit = %d minor, want 12345 fils", got[0].Minor)
	}
}

func amountPtr(s string) *decimal.Decimal { d := dec(s); return &d }

// sameEntries compares ledger entries field by field, decimals by value.
func sameEntries(t *testing.T, got, want []game.LedgerEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		ga, wa := g.Amount, w.Amount
		g.Amount, w.Amount = nil, nil
		if g != w {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
		switch {
		case (ga == nil) != (wa == nil):
			t.Errorf("entry %d amount = %v, want %v", i, ga, wa)
		case ga != nil && !ga.Equal(*wa):
			t.Errorf("entry %d amount = %s, want %s", i, ga, wa)
		}
	}
}

func TestDealLedger(t *testing.T) {
	const id, key = "crm/opp-1", "crm/opp-1/v1"
	c := func(rep, team int64, day string, minor int64) game.Credit {
		return game.Credit{RepID: rep, TeamID: team, Day: day, Minor: minor}
	}
	won := []game.Credit{c(7, 3, "2026-11-28", 125000)}

	t.Run("won deal credits revenue, deals and points", func(t *testing.T) {
		sameEntries(t, game.DealLedger(id, nil, won, "USD", key), []game.LedgerEntry{
			{RepID: 7, TeamID: 3, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: 125000, Amount: amountPtr("1250.00"), Reason: "deal won", DealID: id},
			{RepID: 7, TeamID: 3, Metric: game.MetricDeals, Day: "2026-11-28", Delta: 1, Reason: "deal won", DealID: id},
			{RepID: 7, TeamID: 3, Metric: game.MetricPoints, Day: "2026-11-28", Delta: 101, Reason: "deal won", DealID: id},
		})
	})
	t.Run("same state posts nothing", func(t *testing.T) {
		same := []game.Credit{c(7, 3, "2026-11-28", 125000)}
		if got := game.DealLedger(id, won, same, "USD", key); len(got) != 0 {
			t.Errorf("re-sent deal posted %+v", got)
		}
		if got := game.DealLedger(id, nil, nil, "USD", ""); len(got) != 0 {
			t.Errorf("never-won deal posted %+v", got)
		}
	})
	t.Run("amount change posts the difference", func(t *testing.T) {
		sameEntries(t, game.DealLedger(id, won, []game.Credit{c(7, 3, "2026-11-28", 250050)}, "USD", key), []game.LedgerEntry{
			{RepID: 7, TeamID: 3, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: 125050, Amount: amountPtr("1250.50"), Reason: "deal changed: credit corrected", DealID: id, Corrects: key},
			{RepID: 7, TeamID: 3, Metric: game.MetricPoints, Day: "2026-11-28", Delta: 1, Reason: "deal changed: credit corrected", DealID: id, Corrects: key},
		})
		// Within the same thousand, points do not move.
		sameEntries(t, game.DealLedger(id, won, []game.Credit{c(7, 3, "2026-11-28", 120000)}, "USD", key), []game.LedgerEntry{
			{RepID: 7, TeamID: 3, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: -5000, Amount: amountPtr("-50.00"), Reason: "deal changed: credit corrected", DealID: id, Corrects: key},
		})
	})
	t.Run("won to lost reverses exactly", func(t *testing.T) {
		sameEntries(t, game.DealLedger(id, won, nil, "USD", key), []game.LedgerEntry{
			{RepID: 7, TeamID: 3, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: -125000, Amount: amountPtr("-1250.00"), Reason: "deal no longer won: credit reversed", DealID: id, Corrects: key},
			{RepID: 7, TeamID: 3, Metric: game.MetricDeals, Day: "2026-11-28", Delta: -1, Reason: "deal no longer won: credit reversed", DealID: id, Corrects: key},
			{RepID: 7, TeamID: 3, Metric: game.MetricPoints, Day: "2026-11-28", Delta: -101, Reason: "deal no longer won: credit reversed", DealID: id, Corrects: key},
		})
		all := append(game.DealLedger(id, nil, won, "USD", ""), game.DealLedger(id, won, nil, "USD", key)...)
		if net := netLedger(all); len(net) != 0 {
			t.Errorf("win then loss nets to %v, want nothing", net)
		}
	})
	t.Run("moving the close day moves the credit", func(t *testing.T) {
		r := "deal changed: credit corrected"
		sameEntries(t, game.DealLedger(id, won, []game.Credit{c(7, 3, "2026-12-01", 125000)}, "USD", key), []game.LedgerEntry{
			{RepID: 7, TeamID: 3, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: -125000, Amount: amountPtr("-1250"), Reason: r, DealID: id, Corrects: key},
			{RepID: 7, TeamID: 3, Metric: game.MetricDeals, Day: "2026-11-28", Delta: -1, Reason: r, DealID: id, Corrects: key},
			{RepID: 7, TeamID: 3, Metric: game.MetricPoints, Day: "2026-11-28", Delta: -101, Reason: r, DealID: id, Corrects: key},
			{RepID: 7, TeamID: 3, Metric: game.MetricRevenue, Day: "2026-12-01", Delta: 125000, Amount: amountPtr("1250"), Reason: r, DealID: id, Corrects: key},
			{RepID: 7, TeamID: 3, Metric: game.MetricDeals, Day: "2026-12-01", Delta: 1, Reason: r, DealID: id, Corrects: key},
			{RepID: 7, TeamID: 3, Metric: game.MetricPoints, Day: "2026-12-01", Delta: 101, Reason: r, DealID: id, Corrects: key},
		})
	})
	t.Run("reversal lands on the team that was credited", func(t *testing.T) {
		moved := []game.Credit{c(7, 4, "2026-11-28", 125000)}
		got := game.DealLedger(id, won, moved, "USD", key)
		net := netLedger(got)
		want := map[ledgerKey]int64{
			{7, 3, "2026-11-28", game.MetricRevenue}: -125000, {7, 3, "2026-11-28", game.MetricDeals}: -1, {7, 3, "2026-11-28", game.MetricPoints}: -101,
			{7, 4, "2026-11-28", game.MetricRevenue}: 125000, {7, 4, "2026-11-28", game.MetricDeals}: 1, {7, 4, "2026-11-28", game.MetricPoints}: 101,
		}
		if len(net) != len(want) {
			t.Fatalf("net = %v, want %v", net, want)
		}
		for k, v := range want {
			if net[k] != v {
				t.Errorf("%+v = %d, want %d", k, net[k], v)
			}
		}
	})
	t.Run("split of 100.01 allocates every cent", func(t *testing.T) {
		d := wonDeal(t, "100.01", "2026-11-28T12:00:00Z",
			game.Split{RepID: 1, Share: dec("0.3333")}, game.Split{RepID: 2, Share: dec("0.3333")}, game.Split{RepID: 3, Share: dec("0.3334")})
		got := game.DealLedger(id, nil, game.Credits(d, map[int64]int64{1: 10, 2: 10, 3: 20}, time.UTC), "USD", key)
		var revenue, deals, points int64
		amount := decimal.Zero
		perRep := map[int64]int64{}
		for _, e := range got {
			switch e.Metric {
			case game.MetricRevenue:
				revenue += e.Delta
				amount = amount.Add(*e.Amount)
				perRep[e.RepID] = e.Delta
			case game.MetricDeals:
				deals += e.Delta
			case game.MetricPoints:
				points += e.Delta
			}
			if e.Corrects != "" {
				t.Errorf("first credit carries corrects %q", e.Corrects)
			}
		}
		if revenue != 10001 || !amount.Equal(dec("100.01")) {
			t.Errorf("revenue %d cents, amount %s; want 10001 and 100.01", revenue, amount)
		}
		if perRep[1] != 3333 || perRep[2] != 3333 || perRep[3] != 3335 {
			t.Errorf("per rep = %v", perRep)
		}
		if deals != 3 || points != 300 {
			t.Errorf("deals %d, points %d; want one deal and 100 points for each of 3 reps", deals, points)
		}
	})
}

func TestDealPoints(t *testing.T) {
	tests := []struct {
		minor    int64
		currency string
		points   int64
	}{
		{0, "USD", 100},
		{99999, "USD", 100}, // 999.99: no full thousand
		{100000, "USD", 101},
		{250000, "USD", 102},
		{100000000000000, "USD", 100 + 1000000000},
		{999, "JPY", 100},
		{5000, "JPY", 105},
		{999999, "KWD", 100},
		{1000000, "KWD", 101},
	}
	for _, tt := range tests {
		got := game.DealLedger("d", nil, []game.Credit{{RepID: 1, Day: "2026-11-28", Minor: tt.minor}}, tt.currency, "")
		var points int64
		for _, e := range got {
			if e.Metric == game.MetricPoints {
				points += e.Delta
			}
		}
		if points != tt.points {
			t.Errorf("%d minor %s: %d points, want %d", tt.minor, tt.currency, points, tt.points)
		}
	}
}
