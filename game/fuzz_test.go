package game_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"podium/game"
)

// fuzzCurrencies covers 2, 0 and 3 minor digits and one unsupported code.
var fuzzCurrencies = []string{"USD", "JPY", "KWD", "XTS"}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{
		"1250.00", "0", "0.10", "0.001", "1500", ".5", "5.", "-0", "-5", "+5", " 5", "",
		"1e400", "1E5", "1.005", "1000000000000", "1000000000000.01", "0x1F", "1_000", "٣",
		"00000000000000000000000000000001.5", "9999999999999999999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, cur := range fuzzCurrencies {
			d, minor, err := game.ParseAmount(s, cur, "amount")
			if err != nil {
				e := game.AsError(err)
				if e == nil {
					t.Fatalf("ParseAmount(%q, %s): %v is not a *game.Error", s, cur, err)
				}
				switch {
				case e.Code == game.ECurrency && e.Field == "currency":
				case (e.Code == game.EInvalid || e.Code == game.EMissingField) && e.Field == "amount":
				default:
					t.Fatalf("ParseAmount(%q, %s): unexpected error %v", s, cur, err)
				}
				continue
			}
			if cur == "XTS" {
				t.Fatalf("ParseAmount(%q) accepted an unsupported currency", s)
			}
			digits, _ := game.MinorDigits(cur)
			if len(s) > 32 || strings.ContainsAny(s, "eE+ ") {
				t.Fatalf("ParseAmount(%q, %s) accepted a string that is not a plain decimal", s, cur)
			}
			if d.IsNegative() || d.GreaterThan(game.MaxAmount) || minor < 0 {
				t.Fatalf("ParseAmount(%q, %s) = %s, %d: out of range", s, cur, d, minor)
			}
			if !decimal.New(minor, -digits).Equal(d) {
				t.Fatalf("ParseAmount(%q, %s) = %s but %d minor units", s, cur, d, minor)
			}
			// Round trips: the canonical string and the minor-unit rendering
			// parse back to the same minor units.
			for _, again := range []string{d.String(), game.FormatMinor(minor, cur)} {
				d2, minor2, err := game.ParseAmount(again, cur, "amount")
				if err != nil || minor2 != minor || !d2.Equal(d) {
					t.Fatalf("ParseAmount(%q, %s) = %s (%d) but %q parses to %s, %d, %v", s, cur, d, minor, again, d2, minor2, err)
				}
			}
		}
	})
}

var fuzzZones = []*time.Location{time.UTC, time.FixedZone("+14", 14*3600), time.FixedZone("-12", -12*3600)}

func FuzzValidateDeal(f *testing.F) {
	for _, s := range []string{
		`{"source":"hubspot","external_id":"opp-1","version":3,"rep_id":7,"amount":"1250.00","currency":"USD","stage":"won","close_time":"2026-11-28T15:04:05Z"}`,
		`{"external_id":"opp-2","version":1,"splits":[{"rep_id":1,"share":"0.3333"},{"rep_id":2,"share":"0.3333"},{"rep_id":3,"share":"0.3334"}],"amount":"100.01","stage":"won","close_time":"2026-11-30T23:30:00Z"}`,
		`{"external_id":"opp-3","version":2,"rep_id":7,"amount":"150000","currency":"JPY","stage":"won","close_time":"2027-01-01T00:00:00+09:00"}`,
		`{"external_id":"opp-4","version":9,"rep_id":7,"amount":"10.125","currency":"KWD","stage":"lost"}`,
		`{"external_id":"opp-5","version":1,"rep_id":7,"amount":"0","stage":"open"}`,
		`{"external_id":"x","version":1,"rep_id":7,"amount":"1","stage":"won","close_time":"9999-12-31T23:00:00-05:00"}`,
		`{"external_id":"x","version":1,"rep_id":7,"amount":"1","stage":"won","close_time":"0000-01-01T00:00:00+01:00"}`,
		`{"external_id":"x","version":1,"splits":[{"rep_id":1,"share":"0.333"},{"rep_id":2,"share":"0.333"},{"rep_id":3,"share":"0.333"}],"amount":"1","stage":"won","close_time":"2026-11-28T00:00:00Z"}`,
		`{"external_id":"x","version":1,"splits":[{"rep_id":1,"share":"0.5"},{"rep_id":1,"share":"0.5"}],"amount":"1","stage":"open"}`,
		`{"external_id":"x","version":1,"rep_id":7,"splits":[{"rep_id":7,"share":"1"}],"amount":"1","stage":"open"}`,
		`{"external_id":"x","version":1,"rep_id":7,"amount":"1e400","stage":"open"}`,
		`{"external_id":"x","version":1,"rep_id":-1,"amount":"1","stage":"open"}`,
		`{"version":1}`,
		`{}`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	codes := []string{game.EInvalid, game.EMissingField, game.ECurrency}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in game.DealInput
		if err := json.Unmarshal(data, &in); err != nil {
			return
		}
		for _, company := range []string{"USD", "JPY", "KWD"} {
			d, err := game.ValidateDeal(in, company)
			if err != nil {
				e := game.AsError(err)
				if e == nil || !slices.Contains(codes, e.Code) || e.Field == "" || e.Message == "" {
					t.Fatalf("ValidateDeal(%+v, %s): bad error %#v", in, company, err)
				}
				continue
			}
			checkValidDeal(t, in, d, company)
		}
	})
}

// checkValidDeal asserts what every accepted deal guarantees to the engine.
func checkValidDeal(t *testing.T, in game.DealInput, d game.Deal, company string) {
	t.Helper()
	if d.Currency != company {
		t.Fatalf("accepted a deal in %s for a company in %s", d.Currency, company)
	}
	if strings.TrimSpace(d.Source) == "" || strings.TrimSpace(d.ExternalID) == "" || len(d.ExternalID) > game.MaxIDLength || d.Version < 1 {
		t.Fatalf("accepted deal with bad identity: %+v", d)
	}
	if !slices.Contains([]game.Stage{game.StageOpen, game.StageWon, game.StageLost}, d.Stage) {
		t.Fatalf("accepted stage %q", d.Stage)
	}
	if d.Stage == game.StageWon && d.CloseTime.IsZero() {
		t.Fatalf("won deal without a close time: %+v", in)
	}
	if d.CloseTime.Location() != time.UTC {
		t.Fatalf("close time not in UTC: %v", d.CloseTime)
	}
	digits, _ := game.MinorDigits(company)
	total := d.Amount.Shift(digits).IntPart()
	if _, minor, err := game.ParseAmount(d.Amount.String(), company, "amount"); err != nil || minor != total {
		t.Fatalf("amount %s does not round-trip: %d, %v", d.Amount, minor, err)
	}

	if len(d.Splits) == 0 || len(d.Splits) > game.MaxSplits {
		t.Fatalf("%d splits accepted", len(d.Splits))
	}
	sum := decimal.Zero
	reps := map[int64]bool{}
	for _, s := range d.Splits {
		if s.RepID <= 0 || reps[s.RepID] || !s.Share.IsPositive() || s.Share.GreaterThan(decimal.NewFromInt(1)) {
			t.Fatalf("bad split accepted: %+v", d.Splits)
		}
		reps[s.RepID] = true
		sum = sum.Add(s.Share)
	}
	if !sum.Equal(decimal.NewFromInt(1)) {
		t.Fatalf("shares sum to %s", sum)
	}

	for _, loc := range fuzzZones {
		credits := game.Credits(d, nil, loc)
		if d.Stage != game.StageWon {
			if credits != nil {
				t.Fatalf("%s deal credited %+v", d.Stage, credits)
			}
			continue
		}
		var credited int64
		for _, c := range credits {
			credited += c.Minor
		}
		if len(credits) != len(d.Splits) || credited != total {
			t.Fatalf("credits %+v do not allocate %d", credits, total)
		}
		entries := game.DealLedger("deal", nil, credits, company, "")
		deltas, err := game.BoardDeltas(entries)
		if err != nil {
			t.Fatalf("accepted deal closing %v names no board in %s: %v", d.CloseTime, loc, err)
		}
		for _, bd := range deltas {
			if _, err := game.ParseBoardKey(bd.Board); err != nil {
				t.Fatalf("board %q: %v", bd.Board, err)
			}
		}
		if again := game.DealLedger("deal", credits, credits, company, "k"); len(again) != 0 {
			t.Fatalf("re-sent deal posted %+v", again)
		}
		back := game.DealLedger("deal", credits, nil, company, "k")
		if net := netLedger(append(entries, back...)); len(net) != 0 {
			t.Fatalf("reversal leaves %v", net)
		}
	}
}
