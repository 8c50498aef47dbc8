-- Warden schema, version 5: fewer index writes per durable rotation.
--
-- A rotation moves its session's `expires_at`, so `sessions_expires_at` took
-- a delete and an insert in every rotation's transaction, for one query: the
-- flush of never-revoked sessions past their expiry. That query now finds
-- them through their head token's expiry (`outstanding_tokens_expires_at`):
-- a session's `expires_at` is never earlier than its head token's (opening
-- and rotating set it to the head's, a sliding refresh only moves it later),
-- so a session past its expiry has its head among the expired tokens.
--
-- `audit_log_actor` indexed every line, though only lines someone caused
-- (staff actions) have an actor: it now holds only those. A query for an
-- actor (`actor = ?`) implies `actor IS NOT NULL`, so it still uses it.
DROP INDEX sessions_expires_at;
DROP INDEX audit_log_actor;
CREATE INDEX audit_log_actor ON audit_log (actor) WHERE actor IS NOT NULL;
