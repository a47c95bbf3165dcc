package engine

import (
	"context"
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"

	"podium/game"
	"podium/game/comp"
)

// CompStore keeps incentive compensation: plan versions, who is on which
// plan, quotas, exchange rates, the pay ledger, statements and disputes.
// store/sqlite and store/postgres implement it and pass the contract suite in
// store/storetest.
//
// Like Directory, every change an admin cares about takes the actor and
// writes its audit entry in the same transaction ("plan.create",
// "assignment.create", "quota.set", "rate.set", "pay.adjust",
// "statement.<status>", "dispute.open", "dispute.comment",
// "dispute.resolve").
type CompStore interface {
	// PutPlan stores a new plan version. The caller has validated it with
	// comp.ValidateVersions against the stored versions; (ID, Version) is
	// unique (EConflict on "version").
	PutPlan(ctx context.Context, p comp.Plan, by game.Actor) error
	// Plans returns every version of every plan, by id then version.
	Plans(ctx context.Context) ([]comp.Plan, error)

	// PutAssignment stores who is on a plan from a day to a day. An
	// assignment names a rep or a team (exactly one); an unknown plan, rep
	// or team is EInvalid. Two assignments of the same rep (or the same
	// team) whose days overlap are EConflict on "from".
	PutAssignment(ctx context.Context, a Assignment, by game.Actor) (Assignment, error)
	// EndAssignment sets an assignment's last day, earlier only (ENotFound;
	// EInvalid on "to"). Audit: "assignment.end".
	EndAssignment(ctx context.Context, id int64, to string, by game.Actor) (Assignment, error)
	// Assignments returns every assignment, by id.
	Assignments(ctx context.Context) ([]Assignment, error)

	// PutQuota sets (or replaces) a rep's quota for a period instance;
	// unknown rep is EInvalid "rep_id".
	PutQuota(ctx context.Context, q comp.Quota, by game.Actor) error
	// Quotas returns a rep's quotas (repID 0: everyone's), by rep, period
	// and instance.
	Quotas(ctx context.Context, repID int64) ([]comp.Quota, error)

	// PutRate sets (or replaces) the exchange rate from one currency to
	// another from a day on.
	PutRate(ctx context.Context, r comp.Rate, by game.Actor) error
	// Rates returns every exchange rate.
	Rates(ctx context.Context) ([]comp.Rate, error)

	// ClaimCompWork returns up to limit pending pay computations, oldest
	// first, skipping ones another node is working on (Postgres: FOR UPDATE
	// SKIP LOCKED in a short transaction that sets claimed_at; a claim older
	// than a minute is claimable again, so a crashed node's work is not lost).
	ClaimCompWork(ctx context.Context, limit int) ([]CompWork, error)
	// InCompTx runs fn in one transaction.
	InCompTx(ctx context.Context, fn func(CompTx) error) error

	// PayLines returns a rep's pay lines posted for period (PayLine.Period),
	// oldest first; repID 0 means every rep's.
	PayLines(ctx context.Context, repID int64, period string) ([]PayLine, error)
	// PayLinesPostedIn returns the lines a period's statement shows: those
	// whose PostedIn is period (corrections of locked periods included), by
	// id; repID 0 means every rep's.
	PayLinesPostedIn(ctx context.Context, repID int64, period string) ([]PayLine, error)
	// MarkCompWork marks a rep's plan period for computation outside an
	// ingest (a quota, plan or assignment changed), like Tx.AddCompWork.
	MarkCompWork(ctx context.Context, w CompWork) error
	// AdjustPay appends a manual adjustment line (kind "manual") and its
	// audit entry ("pay.adjust") in one transaction; EConflict on "period"
	// when the statement it would show in is locked or paid.
	AdjustPay(ctx context.Context, l PayLine, by game.Actor) (PayLine, error)
	// RepPay returns everything of a rep's pay (lines, statements,
	// disputes), for their data export.
	RepPay(ctx context.Context, repID int64) (RepPay, error)
	// PayLine returns one line; ENotFound when absent.
	PayLine(ctx context.Context, id int64) (PayLine, error)

	// Statement returns a rep's statement record for a period; a statement
	// never acted on is returned with Status "draft" and no hash.
	Statement(ctx context.Context, repID int64, period string) (Statement, error)
	// Statements returns every statement record of a period.
	Statements(ctx context.Context, period string) ([]Statement, error)
	// MoveStatement changes a statement's status from `from` to st.Status
	// (compare and set: EConflict when its status is not `from`) and stores
	// st's snapshot, hash and stamps. Audit: "statement.<status>".
	MoveStatement(ctx context.Context, st Statement, from StatementStatus, by game.Actor) (Statement, error)

	// OpenDispute starts a dispute of a pay line by the rep (or their
	// manager) with a first comment. Audit: "dispute.open".
	OpenDispute(ctx context.Context, d Dispute, by game.Actor) (Dispute, error)
	// CommentDispute appends a comment; ENotFound for an unknown dispute,
	// EConflict when it is resolved. Audit: "dispute.comment".
	CommentDispute(ctx context.Context, id int64, c DisputeComment, by game.Actor) (Dispute, error)
	// ResolveDispute closes a dispute with a resolution; when adjustment is
	// not nil the pay line is appended in the same transaction (its
	// Dispute field set to the dispute's id). Audit: "dispute.resolve".
	ResolveDispute(ctx context.Context, id int64, resolution string, adjustment *PayLine, by game.Actor) (Dispute, error)
	// Disputes returns the disputes of a rep's period (repID 0: every rep's),
	// with their comments, oldest first.
	Disputes(ctx context.Context, repID int64, period string) ([]Dispute, error)
	// Dispute returns one dispute with its comments; ENotFound when absent.
	Dispute(ctx context.Context, id int64) (Dispute, error)
}

// CompTx is the work of one pay computation, inside one transaction.
type CompTx interface {
	// LockPay takes a transaction-level lock on a rep's pay for a period
	// (Postgres: an advisory lock; SQLite: nothing, it has one writer), so
	// two nodes never post the same difference twice.
	LockPay(ctx context.Context, repID int64, period string) error
	// Credits returns what the revenue ledger credits a rep with, per deal,
	// on the days from first to last inclusive ("YYYY-MM-DD"): the sum of
	// the rep's revenue ledger rows of each deal (minor units of the company
	// currency), with the deal's product, the rep's share, the whole deal
	// amount and the deal's close day from the deals table. Deals whose sum
	// is zero are left out.
	Credits(ctx context.Context, repID int64, first, last string) ([]Credited, error)
	// Reversed returns the deals the revenue ledger credited to the rep on
	// the days from first to last and then took back in full (lost or
	// refunded): Minor is what had been credited (the positive rows),
	// CloseDay the day it was credited on, LastChange when it was taken
	// back; DealMinor, Share and Product as in Credits.
	Reversed(ctx context.Context, repID int64, first, last string) ([]Credited, error)
	// TeamCredits returns the sum of revenue ledger rows (minor units) of
	// the given teams on the days from first to last.
	TeamCredits(ctx context.Context, teams []int64, first, last string) (int64, error)
	// Quota returns a rep's quota for a period instance; ok is false when
	// none is set.
	Quota(ctx context.Context, repID int64, period game.Period, instance string) (q comp.Quota, ok bool, err error)
	// Posted returns the sum of the rep's pay lines for period per
	// component, leaving out lines of kind "manual" (adjustments people
	// made, which F does not know about and must not take back).
	Posted(ctx context.Context, repID int64, period string) (map[string]decimal.Decimal, error)
	// LastState returns the state the last computation of the rep's period
	// saw; ok is false before the first.
	LastState(ctx context.Context, repID int64, period string) (s comp.State, ok bool, err error)
	// SaveState stores the state a computation saw.
	SaveState(ctx context.Context, repID int64, period string, s comp.State) error
	// StatementStatus returns the status of a rep's statement for period
	// ("draft" when none).
	StatementStatus(ctx context.Context, repID int64, period string) (StatementStatus, error)
	// AppendPay appends pay lines (IDs assigned).
	AppendPay(ctx context.Context, lines []PayLine) error
	// DoneCompWork deletes a claimed work item, unless it was marked again
	// after claimedAt (then it stays, to be computed again).
	DoneCompWork(ctx context.Context, repID int64, period string, claimedAt time.Time) error
	// AppendLedger and AddOutbox are engine.Tx's: a computation posts its
	// board rows (commission, attainment) and its effect like an ingest.
	AppendLedger(ctx context.Context, eventKey string, at time.Time, entries []game.LedgerEntry) error
	AddOutbox(ctx context.Context, eventKey string, payload []byte, at time.Time) error
}

// RepPay is a rep's pay, as their data export shows it.
type RepPay struct {
	Lines      []PayLine   `json:"lines"`
	Statements []Statement `json:"statements"`
	Disputes   []Dispute   `json:"disputes"`
}

// Credited is one deal's credit to one rep, as the revenue ledger has it.
type Credited struct {
	Deal       string // "source/external_id"
	Minor      int64  // the rep's credit, minor units of the company currency
	DealMinor  int64  // the whole deal's amount, minor units
	Share      decimal.Decimal
	Product    string
	CloseDay   string
	LastChange time.Time // when the newest ledger row of this deal for the rep was posted
}

// Assignment puts a rep, or every rep of a team, on a plan for a range of
// days (both inclusive; To "" is open-ended). A rep's own assignment wins
// over their team's.
type Assignment struct {
	ID     int64  `json:"id"`
	PlanID string `json:"plan_id"`
	RepID  int64  `json:"rep_id,omitempty"`
	TeamID int64  `json:"team_id,omitempty"`
	From   string `json:"from"`
	To     string `json:"to,omitempty"`
	// OverrideTeams are the teams whose credited revenue the plan's
	// override components pay on (a manager's teams).
	OverrideTeams []int64 `json:"override_teams,omitempty"`
}

// CompWork is a rep's period whose pay must be computed again: the ingest
// transaction that credited them marks it, a pay computation clears it.
type CompWork struct {
	RepID     int64
	Period    string // the plan period instance, "2026-11"
	EventKey  string // the last event that marked it
	ClaimedAt time.Time
}

// PayLine is one row of the pay ledger: append-only, like the metric
// ledger. A correction of a locked period is posted in the open period
// (PostedIn) and labelled with the period it corrects (Period).
type PayLine struct {
	ID          int64           `json:"id"`
	RepID       int64           `json:"rep_id"`
	Period      string          `json:"period"`    // the plan period the line belongs to
	PostedIn    string          `json:"posted_in"` // the period whose statement shows it
	Component   string          `json:"component"`
	Kind        string          `json:"kind"` // earned, adjustment, draw, manual
	Amount      decimal.Decimal `json:"amount"`
	Currency    string          `json:"currency"`
	PlanID      string          `json:"plan_id,omitempty"`
	PlanVersion int64           `json:"plan_version,omitempty"`
	EventKey    string          `json:"event_key,omitempty"` // the event that caused it
	Trace       json.RawMessage `json:"trace,omitempty"`     // comp.Trace
	Text        string          `json:"text"`                // the trace as a sentence
	Actor       game.Actor      `json:"actor"`
	Reason      string          `json:"reason,omitempty"`
	Dispute     int64           `json:"dispute,omitempty"` // the dispute whose resolution posted it
	At          time.Time       `json:"at"`
}

// StatementStatus is where a statement is in its workflow.
type StatementStatus string

// The statement workflow, in order.
const (
	StatementDraft           StatementStatus = "draft"
	StatementManagerApproved StatementStatus = "manager_approved"
	StatementFinanceApproved StatementStatus = "finance_approved"
	StatementLocked          StatementStatus = "locked" // immutable: the snapshot and its hash are final
	StatementPaid            StatementStatus = "paid"
)

// Statement is the record of a rep's statement for a period: its status, and
// from lock on, the frozen snapshot and its SHA-256.
type Statement struct {
	RepID    int64                `json:"rep_id"`
	Period   string               `json:"period"`
	Status   StatementStatus      `json:"status"`
	Snapshot json.RawMessage      `json:"snapshot,omitempty"`
	Hash     string               `json:"hash,omitempty"`
	Stamps   map[string]StampInfo `json:"stamps,omitempty"` // status → who and when
}

// StampInfo is who moved a statement to a status, and when.
type StampInfo struct {
	By game.Actor `json:"by"`
	At time.Time  `json:"at"`
}

// Dispute is a rep's challenge of a pay line, with its thread.
type Dispute struct {
	ID         int64            `json:"id"`
	RepID      int64            `json:"rep_id"`
	Period     string           `json:"period"`
	LineID     int64            `json:"line_id"`
	Status     string           `json:"status"` // open, resolved
	Resolution string           `json:"resolution,omitempty"`
	OpenedBy   game.Actor       `json:"opened_by"`
	OpenedAt   time.Time        `json:"opened_at"`
	Comments   []DisputeComment `json:"comments"`
}

// DisputeComment is one message of a dispute's thread.
type DisputeComment struct {
	By   game.Actor `json:"by"`
	At   time.Time  `json:"at"`
	Body string     `json:"body"`
}
