-- Warden schema, version 6: a durable rotation writes four B-trees less
-- (8 instead of 12, counting each table and index it inserts into or updates).
--
-- `outstanding_tokens` had two indexes that each took a random insert per
-- rotation: the jti (UNIQUE) and the session. One index on (session_id, jti)
-- now serves both lookups, since a token is always looked up in the session
-- it names (every Warden refresh or sliding token carries `session_id`), and a
-- session's tokens (listing, the cascade from `sessions`) are its prefix. A
-- jti is unique within its session; across sessions it is 122 random bits.
-- The rowid (`seq`) stays the key, so a new token is still an append.
--
-- `audit_log` without AUTOINCREMENT: the log is append-only (no line is ever
-- deleted), so SQLite's largest id + 1 never reuses an id either, and a line
-- no longer updates `sqlite_sequence` as well. Ids keep their values and order.
--
-- `audit_log_kind` and `audit_log_session` leave out `rotated`, the most
-- frequent kind (one line per rotation): a query for other kinds says
-- `kind <> 'rotated'` and still uses them; a query for rotations walks the
-- log newest first, where they are most of the lines, and a session's
-- rotations are found through its user's lines (`audit_log_subject`): a
-- rotation's subject is its session's user. The session index took a random
-- page per rotation (an insertion point per session).
CREATE TABLE audit_log_v6 (
    id         INTEGER PRIMARY KEY,
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
INSERT INTO audit_log_v6 (id, at, kind, subject, actor, session_id, jti, address, reason, detail)
    SELECT id, at, kind, subject, actor, session_id, jti, address, reason, detail
    FROM audit_log;
-- Dropping a table fires none of its triggers, and takes them with it.
DROP TABLE audit_log;
ALTER TABLE audit_log_v6 RENAME TO audit_log;
DELETE FROM sqlite_sequence WHERE name = 'audit_log';
CREATE INDEX audit_log_subject ON audit_log (subject);
CREATE INDEX audit_log_actor ON audit_log (actor) WHERE actor IS NOT NULL;
CREATE INDEX audit_log_kind ON audit_log (kind) WHERE kind <> 'rotated';
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_session ON audit_log (session_id) WHERE kind <> 'rotated';
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TABLE outstanding_tokens_v6 (
    seq                  INTEGER PRIMARY KEY,
    jti                  BLOB    NOT NULL,
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
INSERT INTO outstanding_tokens_v6 (seq, jti, session_id, user_id, token_type,
        signing_input_sha256, kid, issued_at, expires_at, parent_jti, rotated_at,
        successor_jti, address)
    SELECT seq, jti, session_id, user_id, token_type, signing_input_sha256, kid,
           issued_at, expires_at, parent_jti, rotated_at, successor_jti, address
    FROM outstanding_tokens;
DROP TABLE outstanding_tokens;
ALTER TABLE outstanding_tokens_v6 RENAME TO outstanding_tokens;
CREATE UNIQUE INDEX outstanding_tokens_session ON outstanding_tokens (session_id, jti);
CREATE INDEX outstanding_tokens_expires_at ON outstanding_tokens (expires_at);
