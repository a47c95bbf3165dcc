package game

import (
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Limits on input that protect the stores and keep error messages meaningful.
const (
	MaxSplits        = 20
	MaxIDLength      = 200
	MaxActivityCount = 10000
)

// DealInput is a deal as a CRM or a person sends it, before validation.
type DealInput struct {
	Source     string       `json:"source"`
	ExternalID string       `json:"external_id"`
	Version    int64        `json:"version"`
	Name       string       `json:"name"`
	RepID      int64        `json:"rep_id"`
	Splits     []SplitInput `json:"splits"`
	Amount     string       `json:"amount"`
	Currency   string       `json:"currency"`
	Stage      string       `json:"stage"`
	CloseTime  string       `json:"close_time"`
	Product    string       `json:"product"`
}

// SplitInput is one rep's share of a deal as sent: a decimal string in (0, 1].
type SplitInput struct {
	RepID int64  `json:"rep_id"`
	Share string `json:"share"`
}

// DefaultSource names events that arrive without a source.
const DefaultSource = "api"

func checkID(s, field string) error {
	if strings.TrimSpace(s) == "" {
		return Errorf(EMissingField, field, "%s is required", field)
	}
	if len(s) > MaxIDLength {
		return Errorf(EInvalid, field, "%s is longer than %d characters", field, MaxIDLength)
	}
	return nil
}

// The accepted range of input times. RFC 3339 admits any year 0000-9999 with any
// offset, so an instant near either end can fall in year -1 or 10000 on the
// local calendar; such a day is not YYYY-MM-DD, and the ledger row would name no
// board (BoardDeltas and rebuild would fail on it forever). Keeping a day's
// margin at both ends keeps every local day, in any time zone, a valid day. The
// lower bound also keeps 0001-01-01T00:00:00Z, the zero time.Time that stands
// for "no close time", out of accepted input.
var (
	minInputTime = time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC)
	maxInputTime = time.Date(9999, 12, 30, 23, 59, 59, 999999999, time.UTC)
)

func checkTime(t time.Time, field string) error {
	if t.Before(minInputTime) || t.After(maxInputTime) {
		return Errorf(EInvalid, field, "%s %s is outside the supported range %s to %s", field, t.Format(time.RFC3339Nano), minInputTime.Format(time.RFC3339), maxInputTime.Format(time.RFC3339))
	}
	return nil
}

// ValidateDeal checks a DealInput and returns the Deal it describes. currency is
// the company currency: until exchange-rate tables exist, deals in any other
// currency are refused rather than credited at a guessed rate.
func ValidateDeal(in DealInput, currency string) (Deal, error) {
	d := Deal{Source: in.Source, ExternalID: in.ExternalID, Version: in.Version, Name: in.Name, Product: in.Product}
	if d.Source == "" {
		d.Source = DefaultSource
	}
	if err := checkID(d.Source, "source"); err != nil {
		return Deal{}, err
	}
	if err := checkID(d.ExternalID, "external_id"); err != nil {
		return Deal{}, err
	}
	if d.Version < 1 {
		return Deal{}, Errorf(EMissingField, "version", "version is required: a number that grows with every change of the deal (the CRM's revision or its last-modified time in milliseconds)")
	}
	if len(d.Name) > 500 {
		return Deal{}, Errorf(EInvalid, "name", "name is longer than 500 characters")
	}
	if len(d.Product) > MaxIDLength {
		return Deal{}, Errorf(EInvalid, "product", "product is longer than %d characters", MaxIDLength)
	}
	switch Stage(in.Stage) {
	case StageOpen, StageWon, StageLost:
		d.Stage = Stage(in.Stage)
	case "":
		return Deal{}, Errorf(EMissingField, "stage", "stage is required: open, won or lost")
	default:
		return Deal{}, Errorf(EInvalid, "stage", "unknown stage %q: use open, won or lost", in.Stage)
	}
	d.Currency = in.Currency
	if d.Currency == "" {
		d.Currency = currency
	}
	if _, err := MinorDigits(d.Currency); err != nil {
		return Deal{}, err
	}
	if d.Currency != currency {
		return Deal{}, Errorf(ECurrency, "currency", "this Podium counts revenue in %s; deals in %s cannot be credited yet", currency, d.Currency)
	}
	amt, _, err := ParseAmount(in.Amount, d.Currency, "amount")
	if err != nil {
		return Deal{}, err
	}
	d.Amount = amt
	if in.CloseTime != "" {
		t, err := time.Parse(time.RFC3339Nano, in.CloseTime)
		if err != nil {
			return Deal{}, Errorf(EInvalid, "close_time", "close_time %q is not an RFC 3339 time such as 2026-11-28T15:04:05Z", in.CloseTime)
		}
		if err := checkTime(t, "close_time"); err != nil {
			return Deal{}, err
		}
		d.CloseTime = t.UTC()
	} else if d.Stage == StageWon {
		return Deal{}, Errorf(EMissingField, "close_time", "close_time is required for a won deal: it decides which day, month and quarter the deal counts in")
	}
	splits, err := validateSplits(in)
	if err != nil {
		return Deal{}, err
	}
	d.Splits = splits
	return d, nil
}

func validateSplits(in DealInput) ([]Split, error) {
	if in.RepID != 0 && len(in.Splits) > 0 {
		return nil, Errorf(EInvalid, "splits", "send either rep_id or splits, not both")
	}
	if in.RepID != 0 {
		if in.RepID < 0 {
			return nil, Errorf(EInvalid, "rep_id", "rep_id must be a positive id")
		}
		return []Split{{RepID: in.RepID, Share: decimal.NewFromInt(1)}}, nil
	}
	if len(in.Splits) == 0 {
		return nil, Errorf(EMissingField, "rep_id", "rep_id (or a splits list) is required")
	}
	if len(in.Splits) > MaxSplits {
		return nil, Errorf(EInvalid, "splits", "a deal can be split between at most %d reps", MaxSplits)
	}
	seen := make(map[int64]bool, len(in.Splits))
	sum := decimal.Zero
	out := make([]Split, len(in.Splits))
	for i, s := range in.Splits {
		field := "splits[" + itoa(i) + "]"
		if s.RepID <= 0 {
			return nil, Errorf(EMissingField, field+".rep_id", "each split needs a rep_id")
		}
		if seen[s.RepID] {
			return nil, Errorf(EInvalid, field+".rep_id", "rep %d appears twice in splits", s.RepID)
		}
		seen[s.RepID] = true
		if strings.ContainsAny(s.Share, "eE+") || len(s.Share) > 20 {
			return nil, Errorf(EInvalid, field+".share", "share %q is not a plain decimal such as \"0.5\"", s.Share)
		}
		sh, err := decimal.NewFromString(s.Share)
		if err != nil {
			return nil, Errorf(EInvalid, field+".share", "share %q is not a decimal such as \"0.5\"", s.Share)
		}
		if !sh.IsPositive() || sh.GreaterThan(decimal.NewFromInt(1)) {
			return nil, Errorf(EInvalid, field+".share", "share %s must be above 0 and at most 1", s.Share)
		}
		sum = sum.Add(sh)
		out[i] = Split{RepID: s.RepID, Share: sh}
	}
	if !sum.Equal(decimal.NewFromInt(1)) {
		return nil, Errorf(EInvalid, "splits", "split shares add up to %s; they must add up to exactly 1", sum)
	}
	return out, nil
}

func itoa(i int) string { return decimal.NewFromInt(int64(i)).String() }

// Credits returns what each rep of a won deal is credited with: the amount in
// minor units allocated by share (every cent allocated, see Allocate), on the
// local close day, on each rep's current team. A deal that is not won credits
// nothing.
func Credits(d Deal, teamOf map[int64]int64, loc *time.Location) []Credit {
	if d.Stage != StageWon {
		return nil
	}
	digits, _ := MinorDigits(d.Currency)
	total := d.Amount.Shift(digits).IntPart()
	shares := make([]decimal.Decimal, len(d.Splits))
	for i, s := range d.Splits {
		shares[i] = s.Share
	}
	parts := Allocate(total, shares)
	day := Day(d.CloseTime, loc)
	out := make([]Credit, len(d.Splits))
	for i, s := range d.Splits {
		out[i] = Credit{RepID: s.RepID, TeamID: teamOf[s.RepID], Day: day, Minor: parts[i]}
	}
	return out
}

// Points awarded by the default rules. A later issue makes them configurable.
const (
	PointsPerWonDeal = 100
	// PointsPerThousand is awarded per full 1,000 major units of credited revenue.
	PointsPerThousand = 1
)

// ActivityPoints is the default points per activity of each kind.
var ActivityPoints = map[ActivityKind]int64{
	ActivityCall: 1, ActivityEmail: 1, ActivityMeeting: 5, ActivityDemo: 10,
}

func creditPoints(minor int64, digits int32) int64 {
	unit := decimal.New(1000, digits).IntPart() // 1,000 major units in minor units
	return PointsPerWonDeal + PointsPerThousand*(minor/unit)
}

// DealLedger returns the ledger entries that move the credit of a deal from
// before to after (either may be empty): revenue, deals won and points, netted
// per rep, team and day, so that re-sending a deal unchanged posts nothing and a
// changed amount posts only the difference. Reversals and corrections carry
// corrects, the key of the event whose credit they change.
func DealLedger(dealID string, before, after []Credit, currency, corrects string) []LedgerEntry {
	digits, _ := MinorDigits(currency)
	type key struct {
		rep, team int64
		day       string
	}
	type sums struct{ revenue, deals, points int64 }
	net := make(map[key]*sums)
	var order []key
	add := func(cs []Credit, sign int64) {
		for _, c := range cs {
			k := key{c.RepID, c.TeamID, c.Day}
			s := net[k]
			if s == nil {
				s = &sums{}
				net[k] = s
				order = append(order, k)
			}
			s.revenue += sign * c.Minor
			s.deals += sign
			s.points += sign * creditPoints(c.Minor, digits)
		}
	}
	add(before, -1)
	add(after, 1)
	reason, corr := "deal won", ""
	switch {
	case len(before) > 0 && len(after) == 0:
		reason, corr = "deal no longer won: credit reversed", corrects
	case len(before) > 0:
		reason, corr = "deal changed: credit corrected", corrects
	}
	var out []LedgerEntry
	for _, k := range order {
		s := net[k]
		if s.revenue != 0 {
			amt := decimal.New(s.revenue, -digits)
			out = append(out, LedgerEntry{RepID: k.rep, TeamID: k.team, Metric: MetricRevenue, Day: k.day, Delta: s.revenue, Amount: &amt, Reason: reason, DealID: dealID, Corrects: corr})
		}
		if s.deals != 0 {
			out = append(out, LedgerEntry{RepID: k.rep, TeamID: k.team, Metric: MetricDeals, Day: k.day, Delta: s.deals, Reason: reason, DealID: dealID, Corrects: corr})
		}
		if s.points != 0 {
			out = append(out, LedgerEntry{RepID: k.rep, TeamID: k.team, Metric: MetricPoints, Day: k.day, Delta: s.points, Reason: reason, DealID: dealID, Corrects: corr})
		}
	}
	return out
}

// ActivityInput is an activity as sent, before validation.
type ActivityInput struct {
	Source     string `json:"source"`
	ExternalID string `json:"external_id"`
	RepID      int64  `json:"rep_id"`
	Kind       string `json:"kind"`
	Count      int64  `json:"count"`
	OccurredAt string `json:"occurred_at"`
}

// ValidateActivity checks an ActivityInput. Count defaults to 1.
func ValidateActivity(in ActivityInput) (Activity, error) {
	a := Activity{Source: in.Source, ExternalID: in.ExternalID, RepID: in.RepID, Kind: ActivityKind(in.Kind), Count: in.Count}
	if a.Source == "" {
		a.Source = DefaultSource
	}
	if err := checkID(a.Source, "source"); err != nil {
		return Activity{}, err
	}
	if err := checkID(a.ExternalID, "external_id"); err != nil {
		return Activity{}, err
	}
	if a.RepID <= 0 {
		return Activity{}, Errorf(EMissingField, "rep_id", "rep_id is required")
	}
	if in.Kind == "" {
		return Activity{}, Errorf(EMissingField, "kind", "kind is required: call, email, meeting or demo")
	}
	if _, ok := ActivityPoints[a.Kind]; !ok {
		return Activity{}, Errorf(EInvalid, "kind", "unknown activity kind %q: use call, email, meeting or demo", in.Kind)
	}
	if a.Count == 0 {
		a.Count = 1
	}
	if a.Count < 0 || a.Count > MaxActivityCount {
		return Activity{}, Errorf(EInvalid, "count", "count must be between 1 and %d", MaxActivityCount)
	}
	if in.OccurredAt == "" {
		return Activity{}, Errorf(EMissingField, "occurred_at", "occurred_at is required, as an RFC 3339 time")
	}
	t, err := time.Parse(time.RFC3339Nano, in.OccurredAt)
	if err != nil {
		return Activity{}, Errorf(EInvalid, "occurred_at", "occurred_at %q is not an RFC 3339 time such as 2026-11-28T15:04:05Z", in.OccurredAt)
	}
	if err := checkTime(t, "occurred_at"); err != nil {
		return Activity{}, err
	}
	a.OccurredAt = t.UTC()
	return a, nil
}

// ActivityLedger returns the entries an activity posts: its count on the
// activities metric and its points.
func ActivityLedger(a Activity, teamID int64, loc *time.Location) []LedgerEntry {
	day := Day(a.OccurredAt, loc)
	reason := string(a.Kind)
	return []LedgerEntry{
		{RepID: a.RepID, TeamID: teamID, Metric: MetricActivities, Day: day, Delta: a.Count, Reason: reason},
		{RepID: a.RepID, TeamID: teamID, Metric: MetricPoints, Day: day, Delta: a.Count * ActivityPoints[a.Kind], Reason: reason},
	}
}
