-- Warden schema, version 4 on PostgreSQL: fewer index writes per durable
-- rotation; see migrations/sqlite/0005_rotation_indexes.sql. With no index on
-- a column a rotation changes (head_jti, expires_at, last_rotated_at,
-- rotation_count), PostgreSQL can also update the session row in place (HOT).
DROP INDEX sessions_expires_at;
DROP INDEX audit_log_actor;
CREATE INDEX audit_log_actor ON audit_log (actor) WHERE actor IS NOT NULL;
