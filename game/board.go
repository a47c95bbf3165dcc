package game

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ScopeCompany is the scope of company-wide boards; team boards use TeamScope.
const ScopeCompany = "company"

// TeamScope returns the board scope of one team: "team-<id>".
func TeamScope(teamID int64) string { return "team-" + strconv.FormatInt(teamID, 10) }

// ParseScope validates a scope: "company" or "team-<id>".
func ParseScope(s string) (string, error) {
	if s == ScopeCompany {
		return s, nil
	}
	if id, ok := strings.CutPrefix(s, "team-"); ok {
		// Only the canonical form TeamScope writes: "team-007" or "team-+7"
		// would name a board that never receives a delta.
		if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 && TeamScope(n) == s {
			return s, nil
		}
	}
	return "", Errorf(EInvalid, "scope", "unknown scope %q (use company or team-<id>)", s)
}

// ParseMetric validates a metric name.
func ParseMetric(s string) (Metric, error) {
	for _, m := range Metrics {
		if string(m) == s {
			return m, nil
		}
	}
	return "", Errorf(EInvalid, "metric", "unknown metric %q (use revenue, deals, activities, points, commission or attainment)", s)
}

// A BoardKey names one board: a metric over one instance of a period in one
// scope. Its string form, "revenue:month:2026-11:company", is the key in every
// board store.
type BoardKey struct {
	Metric   Metric
	Period   Period
	Instance string
	Scope    string
}

func (k BoardKey) String() string {
	return string(k.Metric) + ":" + string(k.Period) + ":" + k.Instance + ":" + k.Scope
}

// ParseBoardKey parses the string form of a BoardKey.
func ParseBoardKey(s string) (BoardKey, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 4 {
		return BoardKey{}, Errorf(EInvalid, "board", "board %q is not metric:period:instance:scope", s)
	}
	m, err := ParseMetric(parts[0])
	if err != nil {
		return BoardKey{}, err
	}
	p, err := ParsePeriod(parts[1])
	if err != nil {
		return BoardKey{}, err
	}
	sc, err := ParseScope(parts[3])
	if err != nil {
		return BoardKey{}, err
	}
	if parts[2] == "" {
		return BoardKey{}, Errorf(EInvalid, "board", "board %q has no period instance", s)
	}
	if !p.ValidInstance(parts[2]) {
		return BoardKey{}, Errorf(EInvalid, "board", "board %q: %q does not name a %s (such as 2026-11-28, 2026-W48, 2026-11, 2026-Q4, 2026 or all)", s, parts[2], p)
	}
	return BoardKey{Metric: m, Period: p, Instance: parts[2], Scope: sc}, nil
}

// ValidInstance reports whether inst is the name Period.Instance gives to an
// instance of p, the only names BoardDeltas ever writes: it derives a day inside
// the named instance and checks that the instance of that day is named inst.
// Anything else would name a board that stays empty forever.
func (p Period) ValidInstance(inst string) bool {
	var day string
	switch p {
	case PeriodDay:
		day = inst
	case PeriodWeek: // "2026-W48": the Monday of ISO week w is in the week of January 4, plus w-1 weeks
		if len(inst) != 8 || inst[4:6] != "-W" {
			return false
		}
		y, err1 := strconv.Atoi(inst[:4])
		w, err2 := strconv.Atoi(inst[6:])
		if err1 != nil || err2 != nil || w < 1 || w > 53 {
			return false
		}
		jan4 := time.Date(y, time.January, 4, 0, 0, 0, 0, time.UTC)
		day = jan4.AddDate(0, 0, 7*(w-1)-(int(jan4.Weekday())+6)%7).Format(DayLayout)
	case PeriodMonth:
		day = inst + "-01"
	case PeriodQuarter:
		if len(inst) != 7 || inst[4:6] != "-Q" || inst[6] < '1' || inst[6] > '4' {
			return false
		}
		day = fmt.Sprintf("%s-%02d-01", inst[:4], int(inst[6]-'1')*3+1)
	case PeriodYear:
		y, err := strconv.Atoi(inst)
		if err != nil || y < 0 || y > 9999 {
			return false
		}
		day = fmt.Sprintf("%04d-01-01", y)
	case PeriodAll:
		return inst == "all"
	default:
		return false
	}
	got, err := p.Instance(day)
	return err == nil && got == inst
}

// A Standing is a rep's place on a board.
type Standing struct {
	RepID int64 `json:"rep_id"`
	Score int64 `json:"score"`
	Rank  int   `json:"rank"`
}

// RankLess is the one tie rule of every board: a higher score comes first, and
// among equal scores the lower rep id comes first. Equal scores share a rank
// (competition ranking, "1, 2, 2, 4"): a rep's rank is one plus the number of
// reps with a strictly higher score. The rep-id order among ties only fixes the
// display order, so every node and every store list a board identically.
func RankLess(a, b Standing) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.RepID < b.RepID
}

// BoardDelta is an increment of one rep's score on one board.
type BoardDelta struct {
	Board string `json:"board"`
	RepID int64  `json:"rep_id"`
	Delta int64  `json:"delta"`
}

// BoardDeltas expands ledger entries into the board increments they cause: for
// each entry, every period instance containing its day, in the company scope and
// in the team scope of the team the entry was credited to (if any). Increments to the
// same rep on the same board are summed; zero sums are dropped.
func BoardDeltas(entries []LedgerEntry) ([]BoardDelta, error) {
	type k struct {
		board string
		rep   int64
	}
	sum := make(map[k]int64)
	var order []k
	for _, e := range entries {
		for _, p := range Periods {
			if !e.Metric.OnPeriod(p) {
				continue
			}
			inst, err := p.Instance(e.Day)
			if err != nil {
				return nil, err
			}
			scopes := []string{ScopeCompany}
			if e.TeamID != 0 {
				scopes = append(scopes, TeamScope(e.TeamID))
			}
			for _, scope := range scopes {
				key := k{BoardKey{e.Metric, p, inst, scope}.String(), e.RepID}
				if _, seen := sum[key]; !seen {
					order = append(order, key)
				}
				sum[key] += e.Delta
			}
		}
	}
	out := make([]BoardDelta, 0, len(order))
	for _, key := range order {
		if d := sum[key]; d != 0 {
			out = append(out, BoardDelta{Board: key.board, RepID: key.rep, Delta: d})
		}
	}
	return out, nil
}
