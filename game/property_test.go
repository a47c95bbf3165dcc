package game_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"podium/game"
)

// closeTimes are close times chosen to straddle day, week, month, quarter and
// year boundaries in the zones the property runs in.
var closeTimes = []string{
	"2026-11-28T15:00:00Z",
	"2026-11-30T23:30:00Z", // 30 November in New York, 1 December in Tokyo
	"2026-12-31T23:59:59Z",
	"2027-01-01T04:00:00Z", // 2026 in New York, 2027 in UTC
	"2026-09-30T23:00:00Z",
	"2026-10-01T00:00:00Z",
	"2020-12-31T12:00:00Z",
}

var propCurrencies = []string{"USD", "JPY", "KWD"}

// dealVersion draws one state of the deal: any stage, amount and split, and a
// close time from closeTimes (often none for an open or lost deal).
func dealVersion(t *rapid.T, label, currency string, version int64) game.DealInput {
	in := game.DealInput{Source: "crm", ExternalID: "opp-1", Version: version, Currency: currency}
	in.Stage = rapid.SampledFrom([]string{"open", "won", "lost"}).Draw(t, label+"stage")
	digits, _ := game.MinorDigits(currency)
	minor := rapid.OneOf(rapid.Int64Range(0, 100_000), rapid.Int64Range(0, game.MaxAmount.Shift(digits).IntPart())).Draw(t, label+"minor")
	in.Amount = game.FormatMinor(minor, currency)
	if in.Stage == "won" || rapid.Bool().Draw(t, label+"hasClose") {
		in.CloseTime = rapid.SampledFrom(closeTimes).Draw(t, label+"close")
	}
	reps := rapid.SliceOfNDistinct(rapid.Int64Range(1, 6), 1, 4, rapid.ID[int64]).Draw(t, label+"reps")
	if len(reps) == 1 && rapid.Bool().Draw(t, label+"repID") {
		in.RepID = reps[0]
		return in
	}
	// Shares in ten-thousandths, each above zero, summing to exactly 1.
	left := int64(10000)
	for i, rep := range reps {
		share := left
		if i < len(reps)-1 {
			share = rapid.Int64Range(1, left-int64(len(reps)-1-i)).Draw(t, fmt.Sprintf("%sshare%d", label, i))
		}
		left -= share
		in.Splits = append(in.Splits, game.SplitInput{RepID: rep, Share: fmt.Sprintf("%d.%04d", share/10000, share%10000)})
	}
	return in
}

// TestLedgerTelescopes is the property behind "boards equal the ledger whatever
// the order": whatever sequence of versions a deal goes through (amount
// changes, stage flips, split changes, moved close days, reps changing team),
// the sum of every DealLedger posted along the way equals the ledger of going
// straight from nothing to the final state, and so do the board deltas.
func TestLedgerTelescopes(t *testing.T) {
	zones := map[string]*time.Location{"UTC": time.UTC, "America/New_York": mustLoad(t, "America/New_York"), "Asia/Tokyo": mustLoad(t, "Asia/Tokyo")}
	rapid.Check(t, func(t *rapid.T) {
		currency := rapid.SampledFrom(propCurrencies).Draw(t, "currency")
		loc := zones[rapid.SampledFrom([]string{"UTC", "America/New_York", "Asia/Tokyo"}).Draw(t, "zone")]
		n := rapid.IntRange(1, 8).Draw(t, "versions")

		var (
			posted   []game.LedgerEntry
			boards   []game.BoardDelta
			before   []game.Credit // what the deal is credited with now, stored with it
			previous string        // idempotency key of the event that credited before
		)
		for v := range n {
			in := dealVersion(t, fmt.Sprintf("v%d.", v), currency, int64(v+1))
			deal, err := game.ValidateDeal(in, currency)
			if err != nil {
				t.Fatalf("generated version %+v refused: %v", in, err)
			}
			// Reps may change team between versions.
			teams := rapid.MapOfN(rapid.Int64Range(1, 6), rapid.Int64Range(0, 3), 0, 6).Draw(t, fmt.Sprintf("v%d.teams", v))
			after := game.Credits(deal, teams, loc)
			key := fmt.Sprintf("crm/opp-1/v%d", v+1)
			step := game.DealLedger("crm/opp-1", before, after, currency, previous)

			for _, e := range step {
				if e.Delta == 0 {
					t.Fatalf("zero entry posted: %+v", e)
				}
				if (e.Corrects != "") != (len(before) > 0) || (len(before) > 0 && e.Corrects != previous) {
					t.Fatalf("entry %+v: corrects %q, want %q", e, e.Corrects, previous)
				}
				if e.Metric == game.MetricRevenue {
					if e.Amount == nil || e.Amount.Shift(mustDigits(t, currency)).IntPart() != e.Delta {
						t.Fatalf("revenue entry amount %v does not match delta %d", e.Amount, e.Delta)
					}
				} else if e.Amount != nil {
					t.Fatalf("%s entry has an amount", e.Metric)
				}
			}
			deltas, err := game.BoardDeltas(step)
			if err != nil {
				t.Fatal(err)
			}
			posted = append(posted, step...)
			boards = append(boards, deltas...)
			before = after
			if len(after) > 0 {
				previous = key
			}
		}

		straight := game.DealLedger("crm/opp-1", nil, before, currency, "")
		if got, want := netLedger(posted), netLedger(straight); !maps.Equal(got, want) {
			t.Fatalf("corrections do not telescope:\n sum of steps %v\n straight     %v", got, want)
		}
		straightBoards, err := game.BoardDeltas(straight)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := boardTotals(boards), boardTotals(straightBoards); !maps.Equal(got, want) {
			t.Fatalf("boards differ from the ledger:\n incremental %v\n rebuilt     %v", got, want)
		}
		// The final credits are exactly the deal's amount, every unit allocated.
		var credited int64
		for _, c := range before {
			credited += c.Minor
		}
		var revenue int64
		for k, v := range netLedger(posted) {
			if k.Metric == game.MetricRevenue {
				revenue += v
			}
		}
		if revenue != credited {
			t.Fatalf("ledger revenue %d, credited %d", revenue, credited)
		}
	})
}

// TestBoardDeltasTotals checks BoardDeltas against a simple model: per metric
// and period, the deltas add up to the entries' deltas times the number of
// scopes each entry counts in (company, plus its team when it has one); every
// board named is a valid key of the entry's metric and period; no rep appears
// twice on a board and no zero is sent.
func TestBoardDeltasTotals(t *testing.T) {
	entry := rapid.Custom(func(t *rapid.T) game.LedgerEntry {
		return game.LedgerEntry{
			RepID:  rapid.Int64Range(1, 5).Draw(t, "rep"),
			TeamID: rapid.Int64Range(0, 3).Draw(t, "team"),
			Metric: rapid.SampledFrom(game.Metrics).Draw(t, "metric"),
			Day:    time.Date(2020, 12, 20, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rapid.IntRange(0, 2500).Draw(t, "days")).Format(game.DayLayout),
			Delta:  rapid.Int64Range(-1_000_000, 1_000_000).Draw(t, "delta"),
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		entries := rapid.SliceOfN(entry, 0, 30).Draw(t, "entries")
		deltas, err := game.BoardDeltas(entries)
		if err != nil {
			t.Fatal(err)
		}

		type mp struct {
			m game.Metric
			p game.Period
		}
		want := map[mp]int64{}
		wantCompany := map[mp]int64{}
		for _, e := range entries {
			scopes := int64(1)
			if e.TeamID != 0 {
				scopes = 2
			}
			for _, p := range game.Periods {
				if e.Metric == game.MetricAttainment && p != game.PeriodMonth {
					continue // attainment does not add up across months
				}
				want[mp{e.Metric, p}] += e.Delta * scopes
				wantCompany[mp{e.Metric, p}] += e.Delta
			}
		}
		got := map[mp]int64{}
		gotCompany := map[mp]int64{}
		seen := map[game.BoardDelta]bool{}
		for _, d := range deltas {
			k, err := game.ParseBoardKey(d.Board)
			if err != nil {
				t.Fatalf("BoardDeltas wrote a board ParseBoardKey refuses: %v", err)
			}
			if k.String() != d.Board {
				t.Fatalf("board %q round-trips to %q", d.Board, k.String())
			}
			if d.Delta == 0 {
				t.Fatalf("zero delta sent: %+v", d)
			}
			if seen[game.BoardDelta{Board: d.Board, RepID: d.RepID}] {
				t.Fatalf("rep %d twice on %s", d.RepID, d.Board)
			}
			seen[game.BoardDelta{Board: d.Board, RepID: d.RepID}] = true
			got[mp{k.Metric, k.Period}] += d.Delta
			if k.Scope == game.ScopeCompany {
				gotCompany[mp{k.Metric, k.Period}] += d.Delta
			} else if !strings.HasPrefix(k.Scope, "team-") {
				t.Fatalf("scope %q", k.Scope)
			}
		}
		for k := range want {
			if got[k] != want[k] || gotCompany[k] != wantCompany[k] {
				t.Fatalf("%s/%s: total %d (company %d), want %d (company %d)", k.m, k.p, got[k], gotCompany[k], want[k], wantCompany[k])
			}
		}
		for k, v := range got {
			if v != want[k] {
				t.Fatalf("%s/%s: total %d from no entry", k.m, k.p, v)
			}
		}
	})
}

// TestEveryDayNamesParsableBoards: for any valid day from year 1 to 9999, each
// period instance BoardDeltas writes is accepted by ParseBoardKey, so a client
// can subscribe to every board that exists.
func TestEveryDayNamesParsableBoards(t *testing.T) {
	start := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	days := int(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).Sub(start).Hours() / 24)
	rapid.Check(t, func(t *rapid.T) {
		day := start.AddDate(0, 0, rapid.IntRange(0, days).Draw(t, "day")).Format(game.DayLayout)
		for _, p := range game.Periods {
			inst, err := p.Instance(day)
			if err != nil {
				t.Fatalf("%s.Instance(%s): %v", p, day, err)
			}
			s := game.BoardKey{Metric: game.MetricPoints, Period: p, Instance: inst, Scope: game.TeamScope(3)}.String()
			if k, err := game.ParseBoardKey(s); err != nil || k.String() != s {
				t.Fatalf("ParseBoardKey(%q) = %+v, %v", s, k, err)
			}
		}
	})
}

func mustDigits(t *rapid.T, currency string) int32 {
	d, err := game.MinorDigits(currency)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
