-- Warden schema, version 3: brute-force protection per identifier *and*
-- address (crates/warden-auth/src/lockout.rs).
--
-- `login_throttle` rows are now keyed by an HMAC of the normalised
-- identifier and/or client address under a server secret, never by what was
-- typed: a password typed into the username field used to land here
-- lower-cased. `scope` says what a row counts (pair, identifier, address);
-- `user_id` names the account when the identifier names one (so staff can see
-- and lift its locks); `pending` counts attempts admitted but not yet settled;
-- `expires_at` is when a flush may drop the row. The old rows are transient
-- counters: they are dropped, not converted.
DROP TABLE login_throttle;
CREATE TABLE login_throttle (
    key               TEXT    NOT NULL PRIMARY KEY,
    scope             TEXT    NOT NULL,
    user_id           INTEGER,
    address           TEXT,
    failures          INTEGER NOT NULL,
    pending           INTEGER NOT NULL,
    pending_until     INTEGER,
    window_started_at INTEGER NOT NULL,
    locked_until      INTEGER,
    last_success_at   INTEGER,
    expires_at        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_throttle_user ON login_throttle (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX login_throttle_expires_at ON login_throttle (expires_at);

-- Failed logins of identifiers that name no account recorded what was typed
-- (`detail.identifier`). Nothing typed is kept readable unless it names an
-- account, so those are removed from the existing lines; the append-only
-- trigger is lifted for this one statement and put back.
DROP TRIGGER audit_log_no_update;
UPDATE audit_log
   SET detail = json_remove(detail, '$.identifier')
 WHERE subject IS NULL
   AND detail IS NOT NULL
   AND json_valid(detail)
   AND json_extract(detail, '$.identifier') IS NOT NULL;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
