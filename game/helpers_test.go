package game_test

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the time-zone tests must not depend on the host's zoneinfo

	"github.com/shopspring/decimal"

	"podium/game"
)

// wantError fails unless err is a *game.Error with the given code and field.
func wantError(t testing.TB, err error, code, field string) {
	t.Helper()
	e := game.AsError(err)
	if e == nil {
		t.Fatalf("err = %v, want a *game.Error with code %q field %q", err, code, field)
	}
	if e.Code != code || e.Field != field {
		t.Fatalf("err = %v: code %q field %q, want code %q field %q", err, e.Code, e.Field, code, field)
	}
	if strings.TrimSpace(e.Message) == "" {
		t.Fatalf("err = %#v has no message a person can act on", e)
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load location %s: %v", name, err)
	}
	return loc
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// ledgerKey identifies what a ledger row changes; summing rows by it gives the
// net effect of a series of rows.
type ledgerKey struct {
	Rep, Team int64
	Day       string
	Metric    game.Metric
}

func netLedger(entries []game.LedgerEntry) map[ledgerKey]int64 {
	net := make(map[ledgerKey]int64)
	for _, e := range entries {
		k := ledgerKey{e.RepID, e.TeamID, e.Day, e.Metric}
		net[k] += e.Delta
		if net[k] == 0 {
			delete(net, k)
		}
	}
	return net
}

func boardTotals(deltas []game.BoardDelta) map[game.BoardDelta]int64 {
	tot := make(map[game.BoardDelta]int64)
	for _, d := range deltas {
		k := game.BoardDelta{Board: d.Board, RepID: d.RepID}
		tot[k] += d.Delta
		if tot[k] == 0 {
			delete(tot, k)
		}
	}
	return tot
}
