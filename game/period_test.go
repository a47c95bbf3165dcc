package game_test

import (
	"testing"

	"podium/game"
)

func TestPeriodInstance(t *testing.T) {
	tests := []struct {
		period game.Period
		day    string
		want   string
	}{
		{game.PeriodDay, "2026-11-28", "2026-11-28"},
		{game.PeriodDay, "2028-02-29", "2028-02-29"},

		{game.PeriodWeek, "2026-11-28", "2026-W48"}, // the example in DESIGN.md
		{game.PeriodWeek, "2026-11-23", "2026-W48"}, // its Monday
		{game.PeriodWeek, "2026-11-29", "2026-W48"}, // its Sunday
		{game.PeriodWeek, "2026-11-30", "2026-W49"},
		{game.PeriodWeek, "2025-12-29", "2026-W01"}, // a December day in the next ISO year
		{game.PeriodWeek, "2026-01-01", "2026-W01"},
		{game.PeriodWeek, "2026-01-05", "2026-W02"},
		{game.PeriodWeek, "2026-12-31", "2026-W53"}, // 2026 starts on a Thursday: 53 weeks
		{game.PeriodWeek, "2027-01-01", "2026-W53"}, // a January day in the previous ISO year
		{game.PeriodWeek, "2027-01-03", "2026-W53"},
		{game.PeriodWeek, "2027-01-04", "2027-W01"},
		{game.PeriodWeek, "2021-01-03", "2020-W53"},
		{game.PeriodWeek, "2021-01-04", "2021-W01"},
		{game.PeriodWeek, "2024-12-30", "2025-W01"},
		{game.PeriodWeek, "2027-12-31", "2027-W52"},
		{game.PeriodWeek, "0999-06-15", "0999-W24"}, // four-digit year, zero padded

		{game.PeriodMonth, "2026-11-28", "2026-11"},
		{game.PeriodMonth, "2026-01-31", "2026-01"},
		{game.PeriodMonth, "2027-01-01", "2027-01"},

		{game.PeriodQuarter, "2026-01-01", "2026-Q1"},
		{game.PeriodQuarter, "2026-03-31", "2026-Q1"},
		{game.PeriodQuarter, "2026-04-01", "2026-Q2"},
		{game.PeriodQuarter, "2026-06-30", "2026-Q2"},
		{game.PeriodQuarter, "2026-07-01", "2026-Q3"},
		{game.PeriodQuarter, "2026-09-30", "2026-Q3"},
		{game.PeriodQuarter, "2026-10-01", "2026-Q4"},
		{game.PeriodQuarter, "2026-11-28", "2026-Q4"},
		{game.PeriodQuarter, "2026-12-31", "2026-Q4"},
		{game.PeriodQuarter, "2024-12-30", "2024-Q4"}, // calendar year, not the ISO year of its week
		{game.PeriodQuarter, "2027-01-01", "2027-Q1"},

		{game.PeriodYear, "2026-11-28", "2026"},
		{game.PeriodYear, "2027-01-01", "2027"}, // calendar year, not ISO 2026
		{game.PeriodYear, "2024-12-30", "2024"},

		{game.PeriodAll, "2026-11-28", "all"},
		{game.PeriodAll, "1999-01-01", "all"},
	}
	for _, tt := range tests {
		t.Run(string(tt.period)+"/"+tt.day, func(t *testing.T) {
			got, err := tt.period.Instance(tt.day)
			if err != nil || got != tt.want {
				t.Errorf("%s.Instance(%q) = %q, %v; want %q", tt.period, tt.day, got, err, tt.want)
			}
		})
	}
}

func TestPeriodInstanceErrors(t *testing.T) {
	tests := []struct {
		period game.Period
		day    string
		field  string
	}{
		{game.PeriodDay, "", "day"},
		{game.PeriodDay, "2026-13-01", "day"},
		{game.PeriodDay, "2026-02-30", "day"},
		{game.PeriodDay, "2027-02-29", "day"}, // not a leap year
		{game.PeriodMonth, "2026-2-3", "day"},
		{game.PeriodWeek, "2026-11-28T00:00:00Z", "day"},
		{game.PeriodYear, "26-11-28", "day"},
		{game.PeriodAll, "tomorrow", "day"},
		{game.PeriodQuarter, "10000-01-01", "day"},
		{game.PeriodQuarter, "-0001-12-31", "day"},
		{game.Period("fortnight"), "2026-11-28", "period"},
		{game.Period(""), "2026-11-28", "period"},
	}
	for _, tt := range tests {
		t.Run(string(tt.period)+"/"+tt.day, func(t *testing.T) {
			got, err := tt.period.Instance(tt.day)
			wantError(t, err, game.EInvalid, tt.field)
			if got != "" {
				t.Errorf("instance %q returned with an error", got)
			}
		})
	}
}

func TestParsePeriod(t *testing.T) {
	for _, p := range game.Periods {
		got, err := game.ParsePeriod(string(p))
		if err != nil || got != p {
			t.Errorf("ParsePeriod(%q) = %q, %v", p, got, err)
		}
	}
	for _, s := range []string{"", "Day", "weekly", "month ", "all-time"} {
		_, err := game.ParsePeriod(s)
		wantError(t, err, game.EInvalid, "period")
	}
	if want := []game.Period{"day", "week", "month", "quarter", "year", "all"}; len(game.Periods) != len(want) {
		t.Errorf("Periods = %v, want %v", game.Periods, want)
	}
}

// Periods are computed in the company's time zone: the same instant can be in
// different days, months, quarters and years depending on where the company is.
func TestDayAcrossTimeZones(t *testing.T) {
	tests := []struct {
		instant string
		zone    string
		day     string
		month   string
		quarter string
		year    string
		week    string
	}{
		{"2026-11-30T23:30:00Z", "America/New_York", "2026-11-30", "2026-11", "2026-Q4", "2026", "2026-W49"},
		{"2026-11-30T23:30:00Z", "Asia/Tokyo", "2026-12-01", "2026-12", "2026-Q4", "2026", "2026-W49"},
		{"2026-11-30T23:30:00Z", "UTC", "2026-11-30", "2026-11", "2026-Q4", "2026", "2026-W49"},
		// New Year: ISO week, quarter and year all change.
		{"2027-01-01T03:00:00Z", "America/New_York", "2026-12-31", "2026-12", "2026-Q4", "2026", "2026-W53"},
		{"2027-01-01T03:00:00Z", "UTC", "2027-01-01", "2027-01", "2027-Q1", "2027", "2026-W53"},
		{"2027-01-04T03:00:00Z", "America/Los_Angeles", "2027-01-03", "2027-01", "2027-Q1", "2027", "2026-W53"},
		{"2027-01-04T03:00:00Z", "Europe/Berlin", "2027-01-04", "2027-01", "2027-Q1", "2027", "2027-W01"},
		// Daylight saving: New York is UTC-4 on 30 September, not UTC-5.
		{"2026-10-01T03:30:00Z", "America/New_York", "2026-09-30", "2026-09", "2026-Q3", "2026", "2026-W40"},
		{"2026-10-01T04:30:00Z", "America/New_York", "2026-10-01", "2026-10", "2026-Q4", "2026", "2026-W40"},
		// Half-hour and +14 offsets.
		{"2026-03-31T18:45:00Z", "Asia/Kolkata", "2026-04-01", "2026-04", "2026-Q2", "2026", "2026-W14"},
		{"2026-03-31T18:15:00Z", "Asia/Kolkata", "2026-03-31", "2026-03", "2026-Q1", "2026", "2026-W14"},
		{"2026-12-31T10:00:00Z", "Pacific/Kiritimati", "2027-01-01", "2027-01", "2027-Q1", "2027", "2026-W53"},
		// The offset written in the input does not matter, only the company zone.
		{"2026-12-01T08:30:00+09:00", "America/New_York", "2026-11-30", "2026-11", "2026-Q4", "2026", "2026-W49"},
	}
	for _, tt := range tests {
		t.Run(tt.instant+"@"+tt.zone, func(t *testing.T) {
			day := game.Day(mustTime(t, tt.instant), mustLoad(t, tt.zone))
			if day != tt.day {
				t.Fatalf("Day = %s, want %s", day, tt.day)
			}
			for p, want := range map[game.Period]string{game.PeriodMonth: tt.month, game.PeriodQuarter: tt.quarter, game.PeriodYear: tt.year, game.PeriodWeek: tt.week} {
				if got, err := p.Instance(day); err != nil || got != want {
					t.Errorf("%s.Instance(%s) = %q, %v; want %q", p, day, got, err, want)
				}
			}
		})
	}
}
