package game_test

import (
	"slices"
	"sort"
	"testing"
	"time"

	"podium/game"
)

func TestParseBoardKeyRoundTrip(t *testing.T) {
	instances := map[game.Period][]string{
		game.PeriodDay:     {"2026-11-28", "2028-02-29", "0001-01-01", "9999-12-31"},
		game.PeriodWeek:    {"2026-W48", "2026-W01", "2026-W53", "2020-W53", "2027-W52"},
		game.PeriodMonth:   {"2026-11", "2026-01", "2026-12"},
		game.PeriodQuarter: {"2026-Q1", "2026-Q4"},
		game.PeriodYear:    {"2026", "9999", "999"},
		game.PeriodAll:     {"all"},
	}
	for _, m := range game.Metrics {
		for _, p := range game.Periods {
			for _, inst := range instances[p] {
				for _, scope := range []string{game.ScopeCompany, game.TeamScope(1), game.TeamScope(42)} {
					want := game.BoardKey{Metric: m, Period: p, Instance: inst, Scope: scope}
					s := want.String()
					got, err := game.ParseBoardKey(s)
					if err != nil {
						t.Fatalf("ParseBoardKey(%q) = %v", s, err)
					}
					if got != want || got.String() != s {
						t.Fatalf("ParseBoardKey(%q) = %+v (%q), want %+v", s, got, got.String(), want)
					}
				}
			}
		}
	}
	if got := (game.BoardKey{Metric: game.MetricRevenue, Period: game.PeriodMonth, Instance: "2026-11", Scope: game.ScopeCompany}).String(); got != "revenue:month:2026-11:company" {
		t.Errorf("String() = %q", got)
	}
	if got := game.TeamScope(7); got != "team-7" {
		t.Errorf("TeamScope(7) = %q", got)
	}
}

func TestParseBoardKeyErrors(t *testing.T) {
	tests := []struct {
		in, field string
	}{
		{"", "board"},
		{"revenue", "board"},
		{"revenue:month:2026-11", "board"},
		{"revenue:month:2026-11:company:extra", "board"},
		{"revenue:month:2026:11:company", "board"},
		{"sales:month:2026-11:company", "metric"},
		{"Revenue:month:2026-11:company", "metric"},
		{":month:2026-11:company", "metric"},
		{"revenue:monthly:2026-11:company", "period"},
		{"revenue::2026-11:company", "period"},
		{"revenue:month:2026-11:", "scope"},
		{"revenue:month:2026-11:Company", "scope"},
		{"revenue:month:2026-11:team", "scope"},
		{"revenue:month:2026-11:team-", "scope"},
		{"revenue:month:2026-11:team-0", "scope"},
		{"revenue:month:2026-11:team--1", "scope"},
		{"revenue:month:2026-11:team-007", "scope"}, // BoardDeltas writes team-7
		{"revenue:month:2026-11:team-+7", "scope"},
		{"revenue:month:2026-11:team-1x", "scope"},
		{"revenue:month:2026-11:team-99999999999999999999", "scope"},
		{"revenue:month::company", "board"},
		// An instance must be the name Period.Instance gives, or the board
		// would stay empty forever.
		{"revenue:day:2026-11-31:company", "board"},
		{"revenue:day:2026-11:company", "board"},
		{"revenue:day:26-11-28:company", "board"},
		{"revenue:week:2026-W00:company", "board"},
		{"revenue:week:2026-W54:company", "board"},
		{"revenue:week:2027-W53:company", "board"}, // 2027 has 52 ISO weeks
		{"revenue:week:2026-W5:company", "board"},
		{"revenue:week:2026-w48:company", "board"},
		{"revenue:week:+026-W48:company", "board"},
		{"revenue:week:2026-11-28:company", "board"},
		{"revenue:month:2026-13:company", "board"},
		{"revenue:month:2026-1:company", "board"},
		{"revenue:month:2026-W48:company", "board"},
		{"revenue:month:2026-11-01:company", "board"},
		{"revenue:quarter:2026-Q0:company", "board"},
		{"revenue:quarter:2026-Q5:company", "board"},
		{"revenue:quarter:2026-q4:company", "board"},
		{"revenue:quarter:2026-11:company", "board"},
		{"revenue:year:02026:company", "board"},
		{"revenue:year:0999:company", "board"}, // Instance names year 999 "999"
		{"revenue:year:+2026:company", "board"},
		{"revenue:year:10000:company", "board"},
		{"revenue:year:2026-11:company", "board"},
		{"revenue:all:ALL:company", "board"},
		{"revenue:all:2026:company", "board"},
		{"revenue:month:banana{x}:company", "board"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			k, err := game.ParseBoardKey(tt.in)
			wantError(t, err, game.EInvalid, tt.field)
			if k != (game.BoardKey{}) {
				t.Errorf("refused key returned %+v", k)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	for _, s := range []string{"company", "team-1", "team-42", "team-9223372036854775807"} {
		if got, err := game.ParseScope(s); err != nil || got != s {
			t.Errorf("ParseScope(%q) = %q, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "Company", "team", "team-0", "team-007", "team- 1", "team-1.0"} {
		_, err := game.ParseScope(s)
		wantError(t, err, game.EInvalid, "scope")
	}
}

func TestParseMetric(t *testing.T) {
	for _, m := range []game.Metric{"revenue", "deals", "activities", "points", "commission", "attainment"} {
		if got, err := game.ParseMetric(string(m)); err != nil || got != m {
			t.Errorf("ParseMetric(%q) = %q, %v", m, got, err)
		}
	}
	if !slices.Equal(game.Metrics, []game.Metric{"revenue", "deals", "activities", "points", "commission", "attainment"}) {
		t.Errorf("Metrics = %v", game.Metrics)
	}
	_, err := game.ParseMetric("bonus")
	wantError(t, err, game.EInvalid, "metric")
}

func TestRankLess(t *testing.T) {
	tests := []struct {
		a, b game.Standing
		want bool
	}{
		{game.Standing{RepID: 9, Score: 200}, game.Standing{RepID: 1, Score: 100}, true}, // higher score first
		{game.Standing{RepID: 1, Score: 100}, game.Standing{RepID: 9, Score: 200}, false},
		{game.Standing{RepID: 1, Score: 100}, game.Standing{RepID: 2, Score: 100}, true}, // tie: lower id first
		{game.Standing{RepID: 2, Score: 100}, game.Standing{RepID: 1, Score: 100}, false},
		{game.Standing{RepID: 3, Score: 100}, game.Standing{RepID: 3, Score: 100}, false}, // irreflexive
		{game.Standing{RepID: 1, Score: -5}, game.Standing{RepID: 2, Score: 0}, false},    // negative scores rank below zero
		{game.Standing{RepID: 5, Score: 0}, game.Standing{RepID: 2, Score: -1}, true},
	}
	for _, tt := range tests {
		if got := game.RankLess(tt.a, tt.b); got != tt.want {
			t.Errorf("RankLess(%+v, %+v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}

	board := []game.Standing{
		{RepID: 4, Score: 300}, {RepID: 7, Score: 500}, {RepID: 2, Score: 300},
		{RepID: 9, Score: -20}, {RepID: 1, Score: 0}, {RepID: 3, Score: 500},
	}
	sort.Slice(board, func(i, j int) bool { return game.RankLess(board[i], board[j]) })
	var ids []int64
	for _, s := range board {
		ids = append(ids, s.RepID)
	}
	if want := []int64{3, 7, 2, 4, 1, 9}; !slices.Equal(ids, want) {
		t.Errorf("board order = %v, want %v", ids, want)
	}
}

func TestBoardDeltasExpandsPeriodsAndScopes(t *testing.T) {
	entries := []game.LedgerEntry{{RepID: 3, TeamID: 7, Metric: game.MetricRevenue, Day: "2026-11-28", Delta: 125000}}
	got, err := game.BoardDeltas(entries)
	if err != nil {
		t.Fatal(err)
	}
	var want []game.BoardDelta
	for _, b := range []string{
		"revenue:day:2026-11-28:company", "revenue:day:2026-11-28:team-7",
		"revenue:week:2026-W48:company", "revenue:week:2026-W48:team-7",
		"revenue:month:2026-11:company", "revenue:month:2026-11:team-7",
		"revenue:quarter:2026-Q4:company", "revenue:quarter:2026-Q4:team-7",
		"revenue:year:2026:company", "revenue:year:2026:team-7",
		"revenue:all:all:company", "revenue:all:all:team-7",
	} {
		want = append(want, game.BoardDelta{Board: b, RepID: 3, Delta: 125000})
	}
	if !slices.Equal(got, want) {
		t.Errorf("BoardDeltas =\n%v\nwant\n%v", got, want)
	}
}

func TestBoardDeltasWithoutTeamSkipsTeamScope(t *testing.T) {
	got, err := game.BoardDeltas([]game.LedgerEntry{{RepID: 3, Metric: game.MetricDeals, Day: "2027-01-01", Delta: 1}})
	if err != nil {
		t.Fatal(err)
	}
	want := []game.BoardDelta{
		{Board: "deals:day:2027-01-01:company", RepID: 3, Delta: 1},
		{Board: "deals:week:2026-W53:company", RepID: 3, Delta: 1},
		{Board: "deals:month:2027-01:company", RepID: 3, Delta: 1},
		{Board: "deals:quarter:2027-Q1:company", RepID: 3, Delta: 1},
		{Board: "deals:year:2027:company", RepID: 3, Delta: 1},
		{Board: "deals:all:all:company", RepID: 3, Delta: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("BoardDeltas =\n%v\nwant\n%v", got, want)
	}
}

func TestBoardDeltasSumsAndDropsZeros(t *testing.T) {
	entries := []game.LedgerEntry{
		{RepID: 1, TeamID: 2, Metric: game.MetricPoints, Day: "2026-11-27", Delta: 100},
		{RepID: 1, TeamID: 2, Metric: game.MetricPoints, Day: "2026-11-28", Delta: 5},
		{RepID: 1, TeamID: 2, Metric: game.MetricPoints, Day: "2026-11-28", Delta: 10},
		// A reversal on the 27th, moved to the 30th (next week, same month).
		{RepID: 1, TeamID: 2, Metric: game.MetricPoints, Day: "2026-11-27", Delta: -100},
		{RepID: 1, TeamID: 2, Metric: game.MetricPoints, Day: "2026-11-30", Delta: 100},
		// Another rep on the same boards is a different member.
		{RepID: 4, Metric: game.MetricPoints, Day: "2026-11-28", Delta: 1},
		// Same rep, other metric: other boards.
		{RepID: 1, TeamID: 2, Metric: game.MetricActivities, Day: "2026-11-28", Delta: 3},
		{RepID: 1, TeamID: 2, Metric: game.MetricActivities, Day: "2026-11-28", Delta: -3},
	}
	got, err := game.BoardDeltas(entries)
	if err != nil {
		t.Fatal(err)
	}
	want := map[game.BoardDelta]int64{}
	for _, scope := range []string{"company", "team-2"} {
		add := func(board string, rep, d int64) { want[game.BoardDelta{Board: board + ":" + scope, RepID: rep}] = d }
		// day 2026-11-27 nets to zero and is dropped
		add("points:day:2026-11-28", 1, 15)
		add("points:day:2026-11-30", 1, 100)
		add("points:week:2026-W48", 1, 15) // 100 - 100 + 5 + 10
		add("points:week:2026-W49", 1, 100)
		add("points:month:2026-11", 1, 115)
		add("points:quarter:2026-Q4", 1, 115)
		add("points:year:2026", 1, 115)
		add("points:all:all", 1, 115)
	}
	for _, b := range []string{"points:day:2026-11-28", "points:week:2026-W48", "points:month:2026-11", "points:quarter:2026-Q4", "points:year:2026", "points:all:all"} {
		want[game.BoardDelta{Board: b + ":company", RepID: 4}] = 1
	}
	if len(got) != len(want) {
		t.Errorf("got %d deltas, want %d: %v", len(got), len(want), got)
	}
	seen := map[game.BoardDelta]bool{}
	for _, d := range got {
		k := game.BoardDelta{Board: d.Board, RepID: d.RepID}
		if seen[k] {
			t.Errorf("rep %d appears twice on %s", d.RepID, d.Board)
		}
		seen[k] = true
		if d.Delta == 0 {
			t.Errorf("zero delta kept: %+v", d)
		}
		if want[k] != d.Delta {
			t.Errorf("%s rep %d: delta %d, want %d", d.Board, d.RepID, d.Delta, want[k])
		}
	}
	// Deltas come out in first-seen order, so a batch is deterministic: the
	// first entry's day boards netted to zero, its week boards lead.
	var first []string
	for _, d := range got[:4] {
		first = append(first, d.Board)
	}
	if want := []string{"points:week:2026-W48:company", "points:week:2026-W48:team-2", "points:month:2026-11:company", "points:month:2026-11:team-2"}; !slices.Equal(first, want) {
		t.Errorf("first boards = %v, want %v", first, want)
	}
}

func TestBoardDeltasEmptyAndErrors(t *testing.T) {
	got, err := game.BoardDeltas(nil)
	if err != nil || len(got) != 0 {
		t.Errorf("BoardDeltas(nil) = %v, %v", got, err)
	}
	_, err = game.BoardDeltas([]game.LedgerEntry{{RepID: 1, Metric: game.MetricDeals, Day: "28/11/2026", Delta: 1}})
	wantError(t, err, game.EInvalid, "day")
}

// Every board BoardDeltas can write must be one a client can name: walk every
// day of half a century and parse the board of each period instance.
func TestBoardsOfEveryDayParse(t *testing.T) {
	weeks := map[string]bool{}
	for d := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2040; d = d.AddDate(0, 0, 1) {
		day := d.Format(game.DayLayout)
		for _, p := range game.Periods {
			inst, err := p.Instance(day)
			if err != nil {
				t.Fatalf("%s.Instance(%s): %v", p, day, err)
			}
			s := game.BoardKey{Metric: game.MetricRevenue, Period: p, Instance: inst, Scope: game.ScopeCompany}.String()
			if _, err := game.ParseBoardKey(s); err != nil {
				t.Fatalf("day %s: %v", day, err)
			}
			if p == game.PeriodWeek {
				weeks[inst] = true
			}
		}
	}
	// 50 years have 2609 ISO weeks (1990-W01 to 2039-W52, with 9 long years).
	if len(weeks) != 50*52+9 {
		t.Errorf("%d distinct ISO weeks, want %d", len(weeks), 50*52+9)
	}
}
