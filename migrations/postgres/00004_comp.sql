-- Incentive compensation (Postgres): plan versions, who is on which plan,
-- quotas, exchange rates, the pay work queue, the pay ledger, statements and
-- disputes. Keep migrations/sqlite/00004_comp.sql in step: the same tables,
-- columns and indexes, in each dialect's types.
--
--   * a plan version is stored whole as the JSON json.Marshal gives of
--     comp.Plan (body); id, version and the days it is in effect are columns
--     too, for the key and for reading without parsing. Days are
--     "YYYY-MM-DD" TEXT, compared as text; NULL to_day / effective_to is
--     open-ended;
--   * comp_work is the queue of rep periods to compute: marked by the ingest
--     transaction that credited them (upserted), claimed by a node
--     (claimed_at), deleted when computed;
--   * pay_ledger is append-only like the ledger: the triggers refuse UPDATE
--     and DELETE. A correction is a new line;
--   * a statement's snapshot and hash are final from "locked" on: a trigger
--     refuses any change to them, any status but locked -> paid, and the
--     deletion of a locked or paid statement;
--   * money is NUMERIC (quotas.amount, fx_rates.rate, pay_ledger.amount);
--     JSON documents (plans, states, stamps, snapshots, traces) are TEXT, kept
--     byte for byte (a statement's hash covers its snapshot's bytes).
--
-- Two indexes on the metric ledger serve the pay computation's reads: a
-- rep's revenue in a period (Credits) and teams' revenue (TeamCredits).

-- +goose Up
CREATE TABLE comp_plans (
    id             TEXT   NOT NULL,
    version        BIGINT NOT NULL,
    effective_from TEXT   NOT NULL,
    effective_to   TEXT,            -- NULL: open-ended
    body           TEXT   NOT NULL, -- comp.Plan as JSON
    created_at     BIGINT NOT NULL,
    created_by     TEXT   NOT NULL,
    PRIMARY KEY (id, version)
);

-- A rep or a team (exactly one) on a plan from a day to a day (inclusive).
-- plan_id names comp_plans.id, every version: the store checks it exists.
CREATE TABLE comp_assignments (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id        TEXT   NOT NULL,
    rep_id         BIGINT REFERENCES reps (id),
    team_id        BIGINT REFERENCES teams (id),
    from_day       TEXT   NOT NULL,
    to_day         TEXT,                         -- NULL: open-ended
    override_teams TEXT   NOT NULL DEFAULT '[]', -- JSON array of team ids
    created_at     BIGINT NOT NULL,
    CONSTRAINT comp_assignments_one_target CHECK ((rep_id IS NULL) <> (team_id IS NULL))
);

CREATE INDEX comp_assignments_rep_idx ON comp_assignments (rep_id);
CREATE INDEX comp_assignments_team_idx ON comp_assignments (team_id);

CREATE TABLE quotas (
    rep_id   BIGINT  NOT NULL REFERENCES reps (id),
    period   TEXT    NOT NULL, -- month, quarter, year
    instance TEXT    NOT NULL, -- 2026-11, 2026-Q4, 2026
    amount   NUMERIC NOT NULL,
    currency TEXT    NOT NULL,
    PRIMARY KEY (rep_id, period, instance)
);

CREATE TABLE fx_rates (
    from_ccy TEXT    NOT NULL,
    to_ccy   TEXT    NOT NULL,
    day      TEXT    NOT NULL, -- first day the rate applies
    rate     NUMERIC NOT NULL,
    PRIMARY KEY (from_ccy, to_ccy, day)
);

CREATE TABLE comp_work (
    rep_id     BIGINT NOT NULL REFERENCES reps (id),
    period     TEXT   NOT NULL, -- the plan period instance
    event_key  TEXT   NOT NULL, -- the last event that marked it
    marked_at  BIGINT NOT NULL,
    claimed_at BIGINT,          -- NULL: nobody is computing it
    PRIMARY KEY (rep_id, period)
);

-- Claims take the oldest marks first.
CREATE INDEX comp_work_marked_idx ON comp_work (marked_at);

-- What the last computation of a rep's period saw (comp.State as JSON).
CREATE TABLE comp_state (
    rep_id BIGINT NOT NULL REFERENCES reps (id),
    period TEXT   NOT NULL,
    state  TEXT   NOT NULL,
    PRIMARY KEY (rep_id, period)
);

CREATE TABLE pay_ledger (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rep_id       BIGINT  NOT NULL REFERENCES reps (id),
    period       TEXT    NOT NULL, -- the plan period the line belongs to
    posted_in    TEXT    NOT NULL, -- the period whose statement shows it
    component    TEXT    NOT NULL,
    kind         TEXT    NOT NULL, -- earned, adjustment, draw, manual
    amount       NUMERIC NOT NULL,
    currency     TEXT    NOT NULL,
    plan_id      TEXT    NOT NULL DEFAULT '',
    plan_version BIGINT  NOT NULL DEFAULT 0,
    event_key    TEXT    NOT NULL DEFAULT '',
    trace        TEXT,             -- comp.Trace as JSON
    text         TEXT    NOT NULL DEFAULT '',
    actor        TEXT    NOT NULL,
    reason       TEXT    NOT NULL DEFAULT '',
    dispute      BIGINT,           -- the dispute whose resolution posted it
    at           BIGINT  NOT NULL
);

-- A rep's lines of a period (Posted, PayLines); every rep's (PayLines for
-- payroll) uses the same index, period first.
CREATE INDEX pay_ledger_period_rep_idx ON pay_ledger (period, rep_id);
-- A statement shows the lines posted in its period.
CREATE INDEX pay_ledger_posted_in_idx ON pay_ledger (posted_in);

-- +goose StatementBegin
CREATE FUNCTION pay_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pay_ledger is append-only: post a correcting line instead of %', TG_OP;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER pay_ledger_append_only BEFORE UPDATE OR DELETE ON pay_ledger
    FOR EACH ROW EXECUTE FUNCTION pay_ledger_append_only();

CREATE TABLE statements (
    rep_id   BIGINT NOT NULL REFERENCES reps (id),
    period   TEXT   NOT NULL,
    status   TEXT   NOT NULL,              -- draft, manager_approved, finance_approved, locked, paid
    snapshot TEXT,                         -- JSON, exactly as hashed
    hash     TEXT   NOT NULL DEFAULT '',
    stamps   TEXT   NOT NULL DEFAULT '{}', -- JSON: status -> who and when
    PRIMARY KEY (rep_id, period)
);

-- +goose StatementBegin
CREATE FUNCTION statements_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'statement is %: it cannot be deleted', OLD.status;
    END IF;
    IF (NEW.rep_id, NEW.period, NEW.snapshot, NEW.hash)
           IS DISTINCT FROM (OLD.rep_id, OLD.period, OLD.snapshot, OLD.hash)
       OR NOT (NEW.status = OLD.status OR (OLD.status = 'locked' AND NEW.status = 'paid'))
    THEN
        RAISE EXCEPTION 'statement is %: its snapshot and hash are final', OLD.status;
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER statements_frozen BEFORE UPDATE OR DELETE ON statements
    FOR EACH ROW WHEN (OLD.status IN ('locked', 'paid')) EXECUTE FUNCTION statements_frozen();

CREATE TABLE disputes (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rep_id     BIGINT NOT NULL REFERENCES reps (id),
    period     TEXT   NOT NULL,
    line_id    BIGINT NOT NULL REFERENCES pay_ledger (id),
    status     TEXT   NOT NULL, -- open, resolved
    resolution TEXT   NOT NULL DEFAULT '',
    opened_by  TEXT   NOT NULL,
    opened_at  BIGINT NOT NULL
);

CREATE INDEX disputes_period_rep_idx ON disputes (period, rep_id);

CREATE TABLE dispute_comments (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dispute_id BIGINT NOT NULL REFERENCES disputes (id),
    by_actor   TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    body       TEXT   NOT NULL
);

CREATE INDEX dispute_comments_dispute_idx ON dispute_comments (dispute_id, id);

-- A rep's revenue in a pay period, which every pay computation reads. Only
-- revenue rows are indexed: an index on every ledger row cost a third of
-- embedded ingest throughput (BenchmarkIngestHTTP/embedded: 7.2k req/s
-- without, 4.4k with full (rep, metric, day) and (team, metric, day)
-- indexes, 6.4k with this one). Override pay (TeamCredits) reads by team
-- without an index; it runs only for plans with an override.
CREATE INDEX ledger_revenue_rep_day_idx ON ledger (rep_id, day) WHERE metric = 'revenue';

-- +goose Down
DROP INDEX ledger_revenue_rep_day_idx;
DROP TABLE dispute_comments;
DROP TABLE disputes;
DROP TABLE statements;
DROP FUNCTION statements_frozen();
DROP TABLE pay_ledger;
DROP FUNCTION pay_ledger_append_only();
DROP TABLE comp_state;
DROP TABLE comp_work;
DROP TABLE fx_rates;
DROP TABLE quotas;
DROP TABLE comp_assignments;
DROP TABLE comp_plans;
