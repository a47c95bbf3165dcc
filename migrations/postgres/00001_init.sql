-- Podium's first schema (Postgres). Keep migrations/sqlite/00001_init.sql in
-- step: the same tables, columns and indexes, in each dialect's types.
--
-- Conventions shared with SQLite:
--   * times are BIGINT unix microseconds, UTC (Postgres TIMESTAMPTZ precision),
--     so both dialects store and compare them the same way;
--   * money is exact: NUMERIC here, TEXT in SQLite, never a float;
--   * a rep's or a ledger row's "no team" is NULL in reps and 0 in ledger.

-- +goose Up
CREATE TABLE teams (
    id     BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name   TEXT    NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    CONSTRAINT teams_name_key UNIQUE (name)
);

CREATE TABLE reps (
    id      BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team_id BIGINT  REFERENCES teams (id),
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
    response BYTEA,  -- the first answer, byte for byte
    at       BIGINT  NOT NULL
);

-- The current state of each deal and what it is credited with.
CREATE TABLE deals (
    source      TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    version     BIGINT  NOT NULL,
    name        TEXT    NOT NULL DEFAULT '',
    splits      JSONB   NOT NULL,
    amount      NUMERIC NOT NULL,
    currency    TEXT    NOT NULL,
    stage       TEXT    NOT NULL,
    close_time  BIGINT  NOT NULL,
    product     TEXT    NOT NULL DEFAULT '',
    credits     JSONB   NOT NULL,
    event_key   TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (source, external_id)
);

CREATE TABLE activities (
    source      TEXT   NOT NULL,
    external_id TEXT   NOT NULL,
    rep_id      BIGINT NOT NULL REFERENCES reps (id),
    kind        TEXT   NOT NULL,
    count       BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    PRIMARY KEY (source, external_id)
);

-- Append-only: a correction is a new row pointing at what it corrects. The
-- trigger below refuses UPDATE and DELETE so that no code path can rewrite
-- history by accident.
CREATE TABLE ledger (
    id        BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_key TEXT    NOT NULL,
    at        BIGINT  NOT NULL,
    rep_id    BIGINT  NOT NULL REFERENCES reps (id),
    team_id   BIGINT  NOT NULL DEFAULT 0,
    metric    TEXT    NOT NULL,
    day       TEXT    NOT NULL, -- YYYY-MM-DD in the company's time zone
    delta     BIGINT  NOT NULL,
    amount    NUMERIC,
    reason    TEXT    NOT NULL DEFAULT '',
    deal      TEXT,
    corrects  TEXT
);

-- A rep's ledger, newest first.
CREATE INDEX ledger_rep_id_idx ON ledger (rep_id, id);

-- +goose StatementBegin
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only: post a correcting row instead of %', TG_OP;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- Effects committed with their event, applied to boards and bus after commit.
CREATE TABLE outbox (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_key  TEXT   NOT NULL,
    payload    BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    applied_at BIGINT
);

-- "Pending, oldest first" reads only the unapplied rows, in order.
CREATE INDEX outbox_pending_idx ON outbox (created_at, id) WHERE applied_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE ledger;
DROP FUNCTION ledger_append_only();
DROP TABLE activities;
DROP TABLE deals;
DROP TABLE events;
DROP TABLE reps;
DROP TABLE teams;
