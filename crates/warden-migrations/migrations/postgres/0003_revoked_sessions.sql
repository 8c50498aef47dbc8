-- Warden schema, version 3 on PostgreSQL: start-up reads only the revoked
-- sessions; see migrations/sqlite/0004_revoked_sessions.sql.
CREATE INDEX sessions_revoked ON sessions (max_expires_at) INCLUDE (id, revoked_reason)
    WHERE revoked_at IS NOT NULL;
