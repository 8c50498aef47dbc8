-- Warden schema, version 4: start-up reads only the revoked sessions.
--
-- Rebuilding the in-memory revocation set (at start, and after a gap in the
-- revocation feed) used to walk the max_expires_at index and look up every
-- live session's row to test revoked_at: its cost grew with the live sessions
-- (311 M instructions for 80,000), not with what it returns. This partial,
-- covering index holds only revoked sessions, with everything the read needs,
-- so the read touches nothing else. A revocation adds one entry to it.
CREATE INDEX sessions_revoked ON sessions (max_expires_at, id, revoked_reason)
    WHERE revoked_at IS NOT NULL;
