-- Warden schema for PostgreSQL, version 1: the SQLite schema (migrations/sqlite/
-- 0001 + 0002) in PostgreSQL's terms. Same tables, columns and meanings:
-- times are Unix seconds (bigint), ids of sessions and tokens are the 16
-- big-endian bytes of the 128-bit id (bytea), `*_key` columns hold the
-- store-computed lower-cased username/e-mail. No raw token is ever stored.

CREATE TABLE users (
    -- An identity never hands out a deleted user's id again.
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username            text    NOT NULL,
    username_key        text    NOT NULL,
    email               text,
    email_key           text,
    email_verified      boolean NOT NULL DEFAULT false,
    password_hash       text    NOT NULL,
    is_active           boolean NOT NULL DEFAULT true,
    is_staff            boolean NOT NULL DEFAULT false,
    created_at          bigint  NOT NULL,
    last_login          bigint,
    password_changed_at bigint,
    locked_until        bigint
);
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);

-- No foreign key to users: a deleted user's revoked sessions stay until their
-- tokens would have expired anyway.
CREATE TABLE sessions (
    id              bytea   NOT NULL PRIMARY KEY,
    user_id         bigint  NOT NULL,
    kind            text    NOT NULL,
    created_at      bigint  NOT NULL,
    last_rotated_at bigint,
    rotation_count  bigint  NOT NULL DEFAULT 0,
    head_jti        bytea   NOT NULL,
    expires_at      bigint  NOT NULL,
    max_expires_at  bigint  NOT NULL,
    revoked_at      bigint,
    revoked_reason  text,
    revoked_by      bigint
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_max_expires_at ON sessions (max_expires_at);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE session_clients (
    session_id   bytea NOT NULL PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    device_label text,
    user_agent   text,
    address      text
);

-- `seq` keeps issue order for the rotation chain.
CREATE TABLE outstanding_tokens (
    seq                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jti                  bytea   NOT NULL UNIQUE,
    session_id           bytea   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id              bigint  NOT NULL,
    token_type           text    NOT NULL,
    signing_input_sha256 text    NOT NULL,
    kid                  text    NOT NULL,
    issued_at            bigint  NOT NULL,
    expires_at           bigint  NOT NULL,
    parent_jti           bytea,
    rotated_at           bigint,
    successor_jti        bytea,
    address              text
);
CREATE INDEX outstanding_tokens_session ON outstanding_tokens (session_id);
CREATE INDEX outstanding_tokens_expires_at ON outstanding_tokens (expires_at);

CREATE TABLE revoked_jtis (
    jti        bytea  NOT NULL PRIMARY KEY,
    session_id bytea,
    user_id    bigint,
    revoked_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    reason     text   NOT NULL
);
CREATE INDEX revoked_jtis_expires_at ON revoked_jtis (expires_at);

CREATE TABLE login_throttle (
    key               text   NOT NULL PRIMARY KEY,
    failures          bigint NOT NULL,
    window_started_at bigint NOT NULL,
    window_ends_at    bigint NOT NULL,
    locked_until      bigint
);

CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         bigint NOT NULL,
    kind       text   NOT NULL,
    subject    bigint,
    actor      bigint,
    session_id bytea,
    jti        bytea,
    address    text,
    reason     text,
    detail     text
);
CREATE INDEX audit_log_subject ON audit_log (subject);
CREATE INDEX audit_log_actor ON audit_log (actor);
CREATE INDEX audit_log_kind ON audit_log (kind);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_session ON audit_log (session_id);

CREATE FUNCTION warden_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION warden_audit_log_append_only();

-- The revocation feed (see migrations/sqlite/0002). `seq` is max + 1, taken
-- while the writing transaction holds the feed's advisory lock until it
-- commits, so positions are gapless and in commit order across every node.
-- The same transaction sends NOTIFY warden_revocations (delivered at commit).
CREATE TABLE revocation_feed (
    seq    bigint NOT NULL PRIMARY KEY,
    at     bigint NOT NULL,
    kind   text   NOT NULL,
    reason text,
    items  bytea  NOT NULL
);
