package game

import (
	"fmt"
	"strconv"
	"time"
)

// Period is the length of time a board covers.
type Period string

// The board periods. A board of PeriodAll never resets.
const (
	PeriodDay     Period = "day"
	PeriodWeek    Period = "week"
	PeriodMonth   Period = "month"
	PeriodQuarter Period = "quarter"
	PeriodYear    Period = "year"
	PeriodAll     Period = "all"
)

// Periods lists every period, shortest first.
var Periods = []Period{PeriodDay, PeriodWeek, PeriodMonth, PeriodQuarter, PeriodYear, PeriodAll}

// DayLayout is the layout of a local day as stored on ledger rows.
const DayLayout = "2006-01-02"

// Day returns the local calendar day of t in loc, as stored on ledger rows.
func Day(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(DayLayout)
}

// Instance returns the name of the instance of p that contains the local day:
// "2026-11-28", "2026-W48" (ISO week), "2026-11", "2026-Q4", "2026" or "all".
// Naming instances from the local day, not from an instant, is what makes the
// ledger's day column enough to rebuild every board.
func (p Period) Instance(day string) (string, error) {
	d, err := time.Parse(DayLayout, day)
	if err != nil {
		return "", Errorf(EInvalid, "day", "day %q is not YYYY-MM-DD", day)
	}
	switch p {
	case PeriodDay:
		return day, nil
	case PeriodWeek:
		y, w := d.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w), nil
	case PeriodMonth:
		return day[:7], nil
	case PeriodQuarter:
		return fmt.Sprintf("%04d-Q%d", d.Year(), (int(d.Month())-1)/3+1), nil
	case PeriodYear:
		return strconv.Itoa(d.Year()), nil
	case PeriodAll:
		return "all", nil
	}
	return "", Errorf(EInvalid, "period", "unknown period %q (use day, week, month, quarter, year or all)", string(p))
}

// ParsePeriod validates a period name.
func ParsePeriod(s string) (Period, error) {
	for _, p := range Periods {
		if string(p) == s {
			return p, nil
		}
	}
	return "", Errorf(EInvalid, "period", "unknown period %q (use day, week, month, quarter, year or all)", s)
}

// ParseDay checks a local day written "YYYY-MM-DD".
func ParseDay(field, s string) (string, error) {
	if _, err := time.Parse(DayLayout, s); err != nil {
		return "", Errorf(EInvalid, field, "%q is not a day written YYYY-MM-DD", s)
	}
	return s, nil
}
