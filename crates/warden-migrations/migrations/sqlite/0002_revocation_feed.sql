-- Warden schema, version 2: the revocation feed.
--
-- Every transaction that revokes sessions or a jti appends one row, so other
-- processes on this database (`warden serve` seeing a `warden sessions
-- revoke`, several nodes on PostgreSQL) learn of it without re-reading
-- everything. `seq` is assigned by the store as max + 1 inside the writing
-- transaction: 1, 2, 3, ... in commit order, without gaps (SQLite has one
-- writer). `items` packs (16-byte id, 8-byte big-endian until) pairs: a
-- session's max_expires_at or a jti's expires_at. flush_expired drops old rows
-- but keeps the newest, so the head never goes back.
CREATE TABLE revocation_feed (
    seq    INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    kind   TEXT    NOT NULL,
    reason TEXT,
    items  BLOB    NOT NULL
);
