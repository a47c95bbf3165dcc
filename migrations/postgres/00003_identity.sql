-- Who may sign in, and what everyone changed (Postgres). Keep
-- migrations/sqlite/00003_identity.sql in step: the same tables, columns and
-- indexes, in each dialect's types.
--
--   * teams report into a parent team (NULL for none); the store refuses a
--     parent that would make a cycle;
--   * a rep may be erased (privacy law): erased_at and the reason are kept,
--     the name and email are replaced;
--   * users sign in with a password (only its argon2id hash is stored) or,
--     for machines, with tokens; sessions, reset links and tokens store only
--     the hash of their secret;
--   * audit_log is a hash chain (game.AuditEntry). Like the ledger it is
--     append-only, with one exception: erasing a person may blank the before
--     and after of entries that name them and mark them redacted. The chain
--     covers a digest of before and after, not the text, so it still
--     verifies. before and after are TEXT, not JSONB: JSONB would reorder
--     keys and respace the JSON, and the digest would no longer match.
--
-- Times are BIGINT unix microseconds, NULL where there is none (locked_until,
-- revoked_at, erased_at). Scopes and channels are JSON arrays of strings,
-- stored as TEXT like SQLite's.

-- +goose Up
ALTER TABLE teams ADD COLUMN parent_id BIGINT REFERENCES teams (id);

ALTER TABLE reps ADD COLUMN erased_at BIGINT;
ALTER TABLE reps ADD COLUMN erasure_reason TEXT;

CREATE TABLE users (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    rep_id        BIGINT  REFERENCES reps (id),
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT    NOT NULL DEFAULT '', -- '' until a password is set
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  BIGINT,
    created_at    BIGINT  NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_rep_id_key UNIQUE (rep_id) -- a rep signs in as one user
);

-- The teams a manager manages (and, through teams.parent_id, those below).
CREATE TABLE user_teams (
    user_id BIGINT NOT NULL REFERENCES users (id),
    team_id BIGINT NOT NULL REFERENCES teams (id),
    PRIMARY KEY (user_id, team_id)
);

CREATE TABLE sessions (
    hash       TEXT   PRIMARY KEY, -- of the cookie
    user_id    BIGINT NOT NULL REFERENCES users (id),
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- "Sign out everywhere", and counting a person's sessions.
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE password_resets (
    hash       TEXT   PRIMARY KEY, -- of the link's secret
    user_id    BIGINT NOT NULL REFERENCES users (id),
    expires_at BIGINT NOT NULL
);

CREATE TABLE tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    scopes     TEXT   NOT NULL DEFAULT '[]', -- JSON array
    channels   TEXT   NOT NULL DEFAULT '[]', -- JSON array
    prefix     TEXT   NOT NULL,
    hash       TEXT   NOT NULL,
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CONSTRAINT tokens_hash_key UNIQUE (hash)
);

CREATE TABLE audit_log (
    seq       BIGINT  PRIMARY KEY, -- assigned by the store: last + 1
    at        BIGINT  NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    object    TEXT    NOT NULL,
    before    TEXT,                -- JSON, exactly as hashed
    after     TEXT,                -- JSON, exactly as hashed
    reason    TEXT    NOT NULL DEFAULT '',
    digest    TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL,
    redacted  BOOLEAN NOT NULL DEFAULT FALSE
);

-- A person's data export: the entries about them and by them.
CREATE INDEX audit_log_object_idx ON audit_log (object, seq);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, seq);

-- The only UPDATE allowed is a redaction: before and after replaced by the
-- marker (or left NULL), redacted set, every other column as it was.
-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND NEW.redacted
       AND (NEW.before IS NULL OR NEW.before = '{"redacted":true}')
       AND (NEW.after IS NULL OR NEW.after = '{"redacted":true}')
       AND (NEW.seq, NEW.at, NEW.actor, NEW.action, NEW.object, NEW.reason,
            NEW.digest, NEW.prev_hash, NEW.hash)
           IS NOT DISTINCT FROM
           (OLD.seq, OLD.at, OLD.actor, OLD.action, OLD.object, OLD.reason,
            OLD.digest, OLD.prev_hash, OLD.hash)
    THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit_log is append-only: only an erasure may redact an entry';
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: entries cannot be deleted';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE tokens;
DROP TABLE password_resets;
DROP TABLE sessions;
DROP TABLE user_teams;
DROP TABLE users;
ALTER TABLE reps DROP COLUMN erasure_reason;
ALTER TABLE reps DROP COLUMN erased_at;
ALTER TABLE teams DROP COLUMN parent_id;
