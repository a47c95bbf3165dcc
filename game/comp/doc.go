// Package comp is Podium's incentive-compensation math: plans, what they pay
// for a rep's period, and why.
//
// # One idea
//
// For a rep and a period (a month, quarter or year), a plan maps the state of
// the period — above all the credited total — to pay: F(state). A credited
// event posts F(after) − F(before) (Post); every later change (an amount
// edited, a deal lost, a late deal, a corrected plan) posts F(new) − what was
// already posted (Adjust). Sums of such lines telescope, so the period's pay
// is F(final) whatever the order of the deals and however they were split.
// F never decreases when credit grows: Validate refuses the configurations
// that would let a deal lower a rep's pay (see the rules below).
//
// Everything is exact decimal (shopspring/decimal), never float64. The only
// divisions — the average rate of a deal group, and quota proration — are
// carried to 20 decimal places (proration then rounds to the currency), far
// below any currency's digits, and computed the same on every node.
//
// The package is pure: no I/O, no clock (days are arguments, "YYYY-MM-DD"
// local days as on ledger rows), no mutable globals. Every function may be
// called concurrently; a Rates table is immutable once built. Errors are
// *game.Error values with stable codes (game.EInvalid, game.EMissingField,
// game.ECurrency, game.ENotFound) and a JSON path in Field, such as
// "components[0].tiers[2].from".
//
// # Plan JSON
//
// Money and percentages are decimal strings ("5" is 5 %, "55000.00" is an
// amount in the plan's currency, with at most its digits). ParsePlan refuses
// unknown fields.
//
//	{
//	  "id": "ae-2026",                  required, the plan across versions
//	  "name": "Account executives",     required
//	  "version": 3,                     required, 1 or more
//	  "currency": "USD",                required, ISO 4217 (game.MinorDigits)
//	  "period": "month",                required: month | quarter | year
//	  "effective_from": "2026-01-01",   required, first day of a period
//	  "effective_to": "2026-12-31",     optional, last day of a period; absent = open-ended
//	  "rounding": {"mode": "half_up", "where": "line"},
//	                                    mode: half_up | half_even | down | up
//	                                    where: line (each posted delta) | total (F itself)
//	  "clawback_days": 90,              optional; absent = a lost deal always reverses
//	  "components": [ ... ]             1 to 50, names unique
//	}
//
// Each component has "kind" and "name" (unique, stable: lines are keyed by
// it) and the fields of its kind only:
//
//	commission  mode ("marginal" | "retroactive"), tiers [{from, rate}],
//	            gate {at, rate}, soft_cap {at, factor | rate},
//	            rate_overrides [{products, deal_types, tiers}],
//	            products, deal_types, cap
//	spiff       amount | rate, min_amount, window {from, to},
//	            products, deal_types, cap
//	bonus       steps [{at, amount}]
//	draw        amount, recoverable
//	override    rate, cap
//
// An example with every kind (it is parsed by the package's tests):
//
//	{
//	  "id": "ae-2026", "name": "Account executives", "version": 1,
//	  "currency": "USD", "period": "month",
//	  "effective_from": "2026-01-01", "effective_to": "2026-12-31",
//	  "rounding": {"mode": "half_up", "where": "total"},
//	  "clawback_days": 90,
//	  "components": [
//	    {"kind": "commission", "name": "commission", "mode": "marginal",
//	     "tiers": [{"from": "0", "rate": "5"}, {"from": "50", "rate": "10"},
//	               {"from": "100", "rate": "12"}, {"from": "150", "rate": "15"}],
//	     "gate": {"at": "25", "rate": "2"},
//	     "soft_cap": {"at": "300", "factor": "0.5"},
//	     "cap": "40000.00"},
//	    {"kind": "commission", "name": "services", "mode": "retroactive",
//	     "products": ["services", "training"],
//	     "tiers": [{"from": "0", "rate": "3"}, {"from": "100", "rate": "4"}],
//	     "rate_overrides": [{"products": ["training"],
//	                         "tiers": [{"from": "0", "rate": "6"}, {"from": "100", "rate": "8"}]}]},
//	    {"kind": "spiff", "name": "q4-widgets", "amount": "250.00",
//	     "products": ["widget"], "min_amount": "5000.00",
//	     "window": {"from": "2026-10-01", "to": "2026-12-31"}, "cap": "2500.00"},
//	    {"kind": "bonus", "name": "quota-club",
//	     "steps": [{"at": "100", "amount": "1000.00"}, {"at": "150", "amount": "2500.00"}]},
//	    {"kind": "draw", "name": "draw", "amount": "3000.00", "recoverable": true},
//	    {"kind": "override", "name": "team", "rate": "1.5"}
//	  ]
//	}
//
// # Rules
//
// Attainment is the rep's credited total (State.Credited) over the period's
// quota (State.Quota), in percent. Thresholds are inclusive: credit exactly
// at a tier's "from" is in that tier. A plan that measures attainment (more
// than one tier, a gate, a soft cap, a bonus) refuses a zero quota with a
// clear error rather than guessing; a flat one-tier commission needs none.
//
// Tiers start at 0 % and are strictly sorted by "from"; rates are 0 to
// 100 %. Marginal mode pays each band of credit at its tier's rate; an
// accelerator is a higher rate above quota, a decelerator a lower one.
// Retroactive mode pays all credit at the rate of the tier reached; there a
// rate may not decrease from one tier to the next, since a deal crossing
// into a lower rate would lower pay on all credit (use marginal mode or a
// soft cap for decelerators).
//
// Gate: below "at" % attainment, all paid credit earns the gate's rate
// (0 when absent); from "at" on, the component pays as if there were no
// gate, on all credit, so reaching the gate releases what it held back. Its
// rate may not exceed any tier rate. (To never pay the first band, use a 0 %
// marginal tier instead.)
//
// Soft cap: above "at" % attainment the component slows down: with "factor"
// every unit of pay earned above the threshold is multiplied by it (0 to 1),
// F = F(S) + factor × (F(T) − F(S)); with "rate" the credit above the
// threshold earns that flat percentage instead of the tiers, F = F(S) +
// rate × (T − S). A gate must come before the soft cap.
//
// Cap: the most a component pays in a period; a deal that crosses it pays
// the rest up to the cap, and the trace says how much the cap withheld.
//
// Products, deal types and rate overrides: a commission still measures
// attainment on all credit, but pays only the deals its products/deal_types
// match, each at the rate table of the first rate override that matches it,
// else at the component's tiers. A group of deals with credit B, under a
// table whose pay on all credit T would be h(T), earns B × h(T) / T: its
// share of what its table pays at the rep's attainment. In retroactive mode
// that is exactly B × the rate reached. Because a deal outside the group
// raises T, such a commission may not have a soft cap or decreasing rates
// (either would let that deal lower the group's pay).
//
// Spiff: per qualifying deal (its product, type, close day in the window and
// whole-deal amount at least min_amount), a fixed amount times the rep's
// share of the deal, or a rate on the rep's credit for it.
//
// Bonus: each step pays its amount once in the period while attainment is at
// or above it; steps add up. Falling back below (a lost deal) reverses it.
//
// Draw: settled at period close, not per event (SettleDraw). The rep is paid
// at least the draw: a shortfall is topped up; under a recoverable draw the
// top-up is carried forward and recovered from later periods' earnings above
// the draw.
//
// Override: a manager's percentage of the team's credited revenue
// (State.TeamCredited).
//
// Clawback: with clawback_days, a won deal lost or refunded within that many
// days of its close loses its credit (the engine removes it from the state
// and posts the adjustment); after the window it keeps it (Plan.ClawsBack).
//
// Rounding: with "total", a line is round(F(after)) − round(F(before)), so
// the lines of a period sum to exactly round(F(final)); with "line", a line
// is round(F(after) − F(before)) and may drift from round(F(final)) by a unit
// per line. Adjust posts round(F(new)) − posted in both, so it trues that
// drift up and a second call posts nothing. Prorated quotas and converted amounts are
// rounded half up to the currency's digits.
//
// # Explanations
//
// Every Line carries a Trace: the plan and component, credit and attainment,
// F before and after, the exact amount and the rounding, the exchange rates
// of the deals the event changed, and Parts — the bands crossed with their
// credit and rate, spiffs per deal, bonus steps, what a cap withheld — whose
// pays add up exactly to the exact amount. Trace.Text says the same in one
// sentence: "12 % on 2,000.00 above quota, 10 % on 16,500.00 from 50 % to
// 100 %, …: 2,715.00 for this deal".
package comp
