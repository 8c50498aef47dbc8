-- Warden schema, version 2 on PostgreSQL: brute-force protection per
-- identifier *and* address; see migrations/sqlite/0003_throttle_scopes.sql.
DROP TABLE login_throttle;
CREATE TABLE login_throttle (
    key               text   NOT NULL PRIMARY KEY,
    scope             text   NOT NULL,
    user_id           bigint,
    address           text,
    failures          bigint NOT NULL,
    pending           bigint NOT NULL,
    pending_until     bigint,
    window_started_at bigint NOT NULL,
    locked_until      bigint,
    last_success_at   bigint,
    expires_at        bigint NOT NULL
);
CREATE INDEX login_throttle_user ON login_throttle (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX login_throttle_expires_at ON login_throttle (expires_at);

ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;
UPDATE audit_log
   SET detail = (detail::jsonb - 'identifier')::text
 WHERE subject IS NULL
   AND detail IS NOT NULL
   AND detail LIKE '{%'
   AND (detail::jsonb ? 'identifier');
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update;
