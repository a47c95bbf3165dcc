package comp

import (
	"fmt"
	"strconv"
	"time"

	"podium/game"
)

// Days are local calendar days, "YYYY-MM-DD", as on ledger rows. They are
// parsed as UTC midnights, so day arithmetic never meets a DST change.

func parseDay(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, game.Errorf(game.EMissingField, field, "%s is required, as a day such as 2026-11-01", field)
	}
	d, err := time.Parse(game.DayLayout, s)
	if err != nil || d.Format(game.DayLayout) != s {
		return time.Time{}, game.Errorf(game.EInvalid, field, "%s %q is not a day in the form YYYY-MM-DD", field, s)
	}
	return d, nil
}

func formatDay(t time.Time) string { return t.Format(game.DayLayout) }

// daysBetween returns b − a in whole days.
func daysBetween(a, b time.Time) int64 { return int64(b.Sub(a).Hours()) / 24 }

// planPeriod reports whether p can be a plan's or a quota's period.
func planPeriod(p game.Period) bool {
	return p == game.PeriodMonth || p == game.PeriodQuarter || p == game.PeriodYear
}

// PeriodDays returns the first and last day of a period instance: a month
// ("2026-11"), a quarter ("2026-Q4") or a year ("2026"), named as boards name
// them (game.Period.Instance).
func PeriodDays(p game.Period, instance string) (first, last string, err error) {
	f, l, err := periodBounds(p, instance)
	if err != nil {
		return "", "", err
	}
	return formatDay(f), formatDay(l), nil
}

func periodBounds(p game.Period, instance string) (first, last time.Time, err error) {
	bad := func() error {
		return game.Errorf(game.EInvalid, "instance", "%q is not a %s such as %s", instance, p, map[game.Period]string{
			game.PeriodMonth: "2026-11", game.PeriodQuarter: "2026-Q4", game.PeriodYear: "2026",
		}[p])
	}
	var months int
	switch p {
	case game.PeriodMonth:
		first, err = time.Parse("2006-01", instance)
		if err != nil || first.Format("2006-01") != instance {
			return first, last, bad()
		}
		months = 1
	case game.PeriodQuarter:
		var y, q int
		if _, err := fmt.Sscanf(instance, "%4d-Q%1d", &y, &q); err != nil || q < 1 || q > 4 || fmt.Sprintf("%04d-Q%d", y, q) != instance {
			return first, last, bad()
		}
		first = time.Date(y, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, time.UTC)
		months = 3
	case game.PeriodYear:
		y, err := strconv.Atoi(instance)
		if err != nil || len(instance) != 4 || y < 1 {
			return first, last, bad()
		}
		first = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		months = 12
	default:
		return first, last, game.Errorf(game.EInvalid, "period", "period %q is not month, quarter or year", string(p))
	}
	return first, first.AddDate(0, months, -1), nil
}

// instanceOf returns the bounds of the instance of p that contains day.
func instanceOf(p game.Period, day time.Time) (first, last time.Time) {
	inst, err := p.Instance(formatDay(day))
	if err != nil {
		return time.Time{}, time.Time{}
	}
	first, last, _ = periodBounds(p, inst)
	return first, last
}
