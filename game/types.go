package game

import (
	"time"

	"github.com/shopspring/decimal"
)

// A Team groups reps; boards have a company scope and one scope per team.
type Team struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Active   bool   `json:"active"`
	ParentID int64  `json:"parent_id,omitempty"` // the team this one reports into; 0 for none
}

// TeamsUnder returns roots and every team below them in the hierarchy that
// teams describe. A cycle (which the store refuses) cannot loop it.
func TeamsUnder(teams []Team, roots []int64) map[int64]bool {
	children := map[int64][]int64{}
	for _, t := range teams {
		if t.ParentID != 0 {
			children[t.ParentID] = append(children[t.ParentID], t.ID)
		}
	}
	out := map[int64]bool{}
	stack := append([]int64(nil), roots...)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if out[id] {
			continue
		}
		out[id] = true
		stack = append(stack, children[id]...)
	}
	return out
}

// A Rep is a person who is credited with deals and activities.
type Rep struct {
	ID     int64  `json:"id"`
	TeamID int64  `json:"team_id"`
	Name   string `json:"name"`
	Email  string `json:"email,omitempty"`
	Active bool   `json:"active"`
}

// Stage is where a deal stands in the pipeline. Only won deals are credited.
type Stage string

// The deal stages Podium understands.
const (
	StageOpen Stage = "open"
	StageWon  Stage = "won"
	StageLost Stage = "lost"
)

// Split is one rep's part of a deal. Share is a fraction in (0, 1]; the shares of
// a deal sum to exactly 1.
type Split struct {
	RepID int64           `json:"rep_id"`
	Share decimal.Decimal `json:"share"`
}

// A Deal is the current state of a CRM opportunity as Podium last accepted it.
type Deal struct {
	Source     string          `json:"source"`
	ExternalID string          `json:"external_id"`
	Version    int64           `json:"version"`
	Name       string          `json:"name,omitempty"`
	Splits     []Split         `json:"splits"`
	Amount     decimal.Decimal `json:"amount"`
	Currency   string          `json:"currency"`
	Stage      Stage           `json:"stage"`
	CloseTime  time.Time       `json:"close_time,omitzero"` // absent until the deal has one
	Product    string          `json:"product,omitempty"`
}

// ActivityKind names a sales activity.
type ActivityKind string

// The activity kinds Podium counts.
const (
	ActivityCall    ActivityKind = "call"
	ActivityEmail   ActivityKind = "email"
	ActivityMeeting ActivityKind = "meeting"
	ActivityDemo    ActivityKind = "demo"
)

// An Activity is a count of calls, emails, meetings or demos a rep made at a time.
type Activity struct {
	Source     string       `json:"source"`
	ExternalID string       `json:"external_id"`
	RepID      int64        `json:"rep_id"`
	Kind       ActivityKind `json:"kind"`
	Count      int64        `json:"count"`
	OccurredAt time.Time    `json:"occurred_at"`
}

// Credit is what one rep is credited with for a won deal: their share of the
// amount in minor units, on the local day the deal closed, on the team they were
// in when it was credited. It is stored with the deal so that a later correction
// reverses exactly what was credited.
type Credit struct {
	RepID  int64  `json:"rep_id"`
	TeamID int64  `json:"team_id"`
	Day    string `json:"day"` // YYYY-MM-DD in the company's time zone
	Minor  int64  `json:"minor"`
}

// Metric names what a board ranks.
type Metric string

// The board metrics. Revenue is in minor units of the company currency; the
// others are counts.
const (
	MetricRevenue    Metric = "revenue"
	MetricDeals      Metric = "deals"
	MetricActivities Metric = "activities"
	MetricPoints     Metric = "points"
	// MetricCommission is pay earned, in minor units of the company
	// currency; private: only finance and admins read its boards unless an
	// admin makes it public.
	MetricCommission Metric = "commission"
	// MetricAttainment is credited revenue over quota in basis points
	// (10000 = 100 %), on month boards only: attainment does not add up
	// across months.
	MetricAttainment Metric = "attainment"
)

// Metrics lists every metric, in display order.
var Metrics = []Metric{MetricRevenue, MetricDeals, MetricActivities, MetricPoints, MetricCommission, MetricAttainment}

// Money reports whether the metric's scores are minor units of a currency.
func (m Metric) Money() bool { return m == MetricRevenue || m == MetricCommission }

// Private reports whether the metric's boards show pay.
func (m Metric) Private() bool { return m == MetricCommission }

// OnPeriod reports whether the metric has boards of period p.
func (m Metric) OnPeriod(p Period) bool { return m != MetricAttainment || p == PeriodMonth }

// A LedgerEntry is one append-only row: a change of one metric for one rep on
// one local day. Amount is set for revenue rows (the decimal in the company
// currency); Delta is always the integer board unit (minor units or a count).
type LedgerEntry struct {
	RepID    int64            `json:"rep_id"`
	TeamID   int64            `json:"team_id"`
	Metric   Metric           `json:"metric"`
	Day      string           `json:"day"`
	Delta    int64            `json:"delta"`
	Amount   *decimal.Decimal `json:"amount,omitempty"`
	Reason   string           `json:"reason"`
	DealID   string           `json:"deal,omitempty"`     // source/external id of the deal, when the cause is a deal
	Corrects string           `json:"corrects,omitempty"` // idempotency key of the event whose credit this row corrects
}
