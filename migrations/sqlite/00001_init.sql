-- Podium's first schema (SQLite). Keep migrations/postgres/00001_init.sql in
-- step: the same tables, columns and indexes, in each dialect's types.
--
-- Conventions shared with Postgres:
--   * times are INTEGER unix microseconds, UTC, so both dialects store and
--     compare them the same way;
--   * money is exact: TEXT here (a decimal string such as "1234567.89"),
--     NUMERIC in Postgres. Never REAL, and never NUMERIC affinity, which
--     SQLite would turn into a float;
--   * a rep's or a ledger row's "no team" is NULL in reps and 0 in ledger.
-- INTEGER PRIMARY KEY AUTOINCREMENT never reuses an id, like a Postgres
-- identity column.

-- +goose Up
CREATE TABLE teams (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    name   TEXT    NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    CONSTRAINT teams_name_key UNIQUE (name)
);

CREATE TABLE reps (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id INTEGER REFERENCES teams (id),
    name    TEXT    NOT NULL,
    email   TEXT,   -- NULL when unset, so any number of reps may lack one
    active  BOOLEAN NOT NULL DEFAULT TRUE,
    CONSTRAINT reps_email_key UNIQUE (email)
);

-- Accepted inputs, kept for idempotency (engine.StoredEvent).
CREATE TABLE events (
    key      TEXT    PRIMARY KEY,
    kind     TEXT    NOT NULL,
    hash     TEXT    NOT NULL,
    status   INTEGER NOT NULL,
    response BLOB,   -- the first answer, byte for byte
    at       INTEGER NOT NULL
);

-- The current state of each deal and what it is credited with.
CREATE TABLE deals (
    source      TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    name        TEXT    NOT NULL DEFAULT '',
    splits      TEXT    NOT NULL, -- JSON
    amount      TEXT    NOT NULL, -- exact decimal
    currency    TEXT    NOT NULL,
    stage       TEXT    NOT NULL,
    close_time  INTEGER NOT NULL,
    product     TEXT    NOT NULL DEFAULT '',
    credits     TEXT    NOT NULL, -- JSON
    event_key   TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (source, external_id)
);

CREATE TABLE activities (
    source      TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    rep_id      INTEGER NOT NULL REFERENCES reps (id),
    kind        TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    occurred_at INTEGER NOT NULL,
    PRIMARY KEY (source, external_id)
);

-- Append-only: a correction is a new row pointing at what it corrects. The
-- triggers below refuse UPDATE and DELETE so that no code path can rewrite
-- history by accident.
CREATE TABLE ledger (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    rep_id    INTEGER NOT NULL REFERENCES reps (id),
    team_id   INTEGER NOT NULL DEFAULT 0,
    metric    TEXT    NOT NULL,
    day       TEXT    NOT NULL, -- YYYY-MM-DD in the company's time zone
    delta     INTEGER NOT NULL,
    amount    TEXT,             -- exact decimal
    reason    TEXT    NOT NULL DEFAULT '',
    deal      TEXT,
    corrects  TEXT
);

-- A rep's ledger, newest first.
CREATE INDEX ledger_rep_id_idx ON ledger (rep_id, id);

-- +goose StatementBegin
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: post a correcting row instead of UPDATE');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: post a correcting row instead of DELETE');
END;
-- +goose StatementEnd

-- Effects committed with their event, applied to boards and bus after commit.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key  TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    applied_at INTEGER
);

-- "Pending, oldest first" reads only the unapplied rows, in order.
CREATE INDEX outbox_pending_idx ON outbox (created_at, id) WHERE applied_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE ledger;
DROP TABLE activities;
DROP TABLE deals;
DROP TABLE events;
DROP TABLE reps;
DROP TABLE teams;
