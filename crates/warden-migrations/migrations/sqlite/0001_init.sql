-- Warden schema, version 1.
--
-- Portable on purpose: INTEGER, TEXT and BLOB columns only, times as Unix
-- seconds, booleans as 0/1, ids of sessions and tokens as 16-byte BLOBs (the
-- big-endian bytes of the 128-bit id: the same bytes as PostgreSQL's `uuid`
-- or a `bytea`, and half the size of 32 hex digits in every key and index).
-- SQLite-only clauses (WITHOUT ROWID, AUTOINCREMENT, partial indexes, the
-- append-only triggers) have direct PostgreSQL counterparts (clustered
-- primary key / identity columns / partial indexes / rules or triggers).
-- No raw token is ever stored: a token is its jti and the SHA-256 of its
-- signing input.

-- Users. `*_key` columns hold the Unicode-lower-cased form computed by the
-- store, so uniqueness and lookups are case-insensitive beyond ASCII (SQLite's
-- NOCASE folds ASCII only) and behave the same on any database.
-- AUTOINCREMENT: a deleted user's id is never handed out again, so sessions,
-- revocations and audit lines that outlive the user never point at someone new.
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    username            TEXT    NOT NULL,
    username_key        TEXT    NOT NULL,
    email               TEXT,
    email_key           TEXT,
    email_verified      INTEGER NOT NULL DEFAULT 0,
    password_hash       TEXT    NOT NULL,
    is_active           INTEGER NOT NULL DEFAULT 1,
    is_staff            INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    last_login          INTEGER,
    password_changed_at INTEGER,
    locked_until        INTEGER
);
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

-- Sessions (token families), clustered by user: a logout-all rewrites one
-- contiguous run of pages instead of 10,000 scattered ones. Nothing that a
-- revocation writes (revoked_*) is indexed, so revoking touches only the table.
-- No foreign key to users: a deleted user's revoked sessions must stay until
-- their tokens would have expired anyway.
CREATE TABLE sessions (
    user_id         INTEGER NOT NULL,
    id              BLOB    NOT NULL,
    kind            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_rotated_at INTEGER,
    rotation_count  INTEGER NOT NULL DEFAULT 0,
    head_jti        BLOB    NOT NULL,
    expires_at      INTEGER NOT NULL,
    max_expires_at  INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_reason  TEXT,
    revoked_by      INTEGER,
    PRIMARY KEY (user_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX sessions_id ON sessions (id);
-- Flush and the restart read of live revocations scan by expiry.
CREATE INDEX sessions_max_expires_at ON sessions (max_expires_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Where a session was opened from. Kept out of `sessions` so the rows a
-- logout-all rewrites stay narrow (user agents are long).
CREATE TABLE session_clients (
    session_id   BLOB NOT NULL PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    device_label TEXT,
    user_agent   TEXT,
    address      TEXT
) WITHOUT ROWID;

-- Refresh and sliding tokens the server issued (SimpleJWT's OutstandingToken).
-- `seq` keeps issue order for the rotation chain; jti is the lookup key.
CREATE TABLE outstanding_tokens (
    seq                  INTEGER PRIMARY KEY,
    jti                  BLOB    NOT NULL UNIQUE,
    session_id           BLOB    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id              INTEGER NOT NULL,
    token_type           TEXT    NOT NULL,
    signing_input_sha256 TEXT    NOT NULL,
    kid                  TEXT    NOT NULL,
    issued_at            INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL,
    parent_jti           BLOB,
    rotated_at           INTEGER,
    successor_jti        BLOB,
    address              TEXT
);
CREATE INDEX outstanding_tokens_session ON outstanding_tokens (session_id);
CREATE INDEX outstanding_tokens_expires_at ON outstanding_tokens (expires_at);

-- Tokens revoked one by one (an access token through RFC 7009).
CREATE TABLE revoked_jtis (
    jti        BLOB    NOT NULL PRIMARY KEY,
    session_id BLOB,
    user_id    INTEGER,
    revoked_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    reason     TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX revoked_jtis_expires_at ON revoked_jtis (expires_at);

-- Failed-login counting per normalised identifier. `window_ends_at` records
-- the window the row was counted under, so a flush (which is not told the
-- policy) knows when the row stops mattering.
CREATE TABLE login_throttle (
    key               TEXT    NOT NULL PRIMARY KEY,
    failures          INTEGER NOT NULL,
    window_started_at INTEGER NOT NULL,
    window_ends_at    INTEGER NOT NULL,
    locked_until      INTEGER
) WITHOUT ROWID;

-- The audit log: append-only; AUTOINCREMENT so ids only grow (paging by id).
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    subject    INTEGER,
    actor      INTEGER,
    session_id BLOB,
    jti        BLOB,
    address    TEXT,
    reason     TEXT,
    detail     TEXT
);
CREATE INDEX audit_log_subject ON audit_log (subject);
CREATE INDEX audit_log_actor ON audit_log (actor);
CREATE INDEX audit_log_kind ON audit_log (kind);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_session ON audit_log (session_id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
