-- Warden schema, version 7: a rotation's token goes to the end of one index,
-- not into one leaf per session.
--
-- Version 6 indexed `outstanding_tokens` on (session_id, jti): every session
-- rotated in a commit had its own insertion point, so a commit of 15
-- rotations rewrote ~15 leaves of that index (more than half the pages a
-- commit wrote, each a WAL frame, checksummed and fsynced). Tokens are now
-- indexed by jti alone, and the jtis Warden mints are time-ordered (UUID v7
-- layout: milliseconds, then 74 random bits), so new tokens go to the end of
-- the index together: one leaf for the whole commit. A token is still always
-- looked up with the session it names, checked against its row. A jti is
-- unique across all tokens again (as it was before version 6).
--
-- The tokens no longer reference `sessions`: with no index on `session_id`,
-- the foreign key would make deleting a session scan every token (SQLite
-- looks up a deleted parent's children), and nothing needs it: tokens are
-- only written with their session, in the same transaction, and the flush
-- removes a doomed session's tokens itself (its rotation chain, from the
-- head through `parent_jti`) before the session. A session's tokens are
-- listed the same way.
CREATE TABLE outstanding_tokens_v7 (
    seq                  INTEGER PRIMARY KEY,
    jti                  BLOB    NOT NULL,
    session_id           BLOB    NOT NULL,
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
INSERT INTO outstanding_tokens_v7 (seq, jti, session_id, user_id, token_type,
        signing_input_sha256, kid, issued_at, expires_at, parent_jti, rotated_at,
        successor_jti, address)
    SELECT seq, jti, session_id, user_id, token_type, signing_input_sha256, kid,
           issued_at, expires_at, parent_jti, rotated_at, successor_jti, address
    FROM outstanding_tokens;
DROP TABLE outstanding_tokens;
ALTER TABLE outstanding_tokens_v7 RENAME TO outstanding_tokens;
CREATE UNIQUE INDEX outstanding_tokens_jti ON outstanding_tokens (jti);
CREATE INDEX outstanding_tokens_expires_at ON outstanding_tokens (expires_at);
