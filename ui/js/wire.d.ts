// Rendered from the Rust types by crates/warden-desktop/tests/wire_types.rs.
// Do not edit: change the Rust type, then run
//   WARDEN_UPDATE_WIRE_TYPES=1 cargo test -p warden-desktop --test wire_types

/**
 * What the server says about the access token: `GET` the account route
 * (`api/me/`, or the form's account path) with it.
 */
export type AccessCheck = { 
/**
 * The user's id (`None` from an OpenID provider, whose subject is a string).
 */
id: number | null, 
/**
 * The user's name.
 */
username: string, 
/**
 * The route asked.
 */
path: string, };

/**
 * What creating a local account answers: the new session, and whether the
 * account owns this computer's server (the first one does: it is staff).
 */
export type AccountCreated = { 
/**
 * The account is the server's first, hence staff.
 */
owner: boolean, 
/**
 * The session it was signed in to.
 */
session: StateView, };

/**
 * Something for a profile's timeline besides its HTTP exchanges.
 */
export type Activity = { 
/**
 * Unix milliseconds, as an exchange's `at`.
 */
at: number, 
/**
 * What happened.
 */
what: ActivityKind, };

/**
 * What an [`Activity`] was.
 */
export type ActivityKind = { "kind": "handed_out", 
/**
 * `warden (pid 4242)`.
 */
to: string, 
/**
 * The token's `jti`.
 */
jti: string | null, 
/**
 * The token's `exp`.
 */
expires_at: number | null, } | { "kind": "revocation_queued", 
/**
 * What is to be revoked.
 */
what: Revocation, 
/**
 * Where (`this computer` or host and port).
 */
server: string, } | { "kind": "revocation_delivered", 
/**
 * What was revoked.
 */
what: Revocation, 
/**
 * Where.
 */
server: string, 
/**
 * How many sessions ended (log out everywhere, a revoked session).
 */
revoked: number | null, } | { "kind": "revocation_abandoned", 
/**
 * What was to be revoked.
 */
what: Revocation, 
/**
 * Where.
 */
server: string, 
/**
 * Why it never will be.
 */
reason: string, } | { "kind": "browser_logout", 
/**
 * Where.
 */
server: string, 
/**
 * How far it got.
 */
outcome: BrowserLogoutOutcome, 
/**
 * In words.
 */
detail: string, };

/**
 * What the window's top bar and sign-in form start from.
 */
export type AppInfo = { 
/**
 * The current session's server (its vault key, for the embedded one).
 */
server_url: string, 
/**
 * The current session is with the embedded server.
 */
embedded: boolean, 
/**
 * Where the embedded server listens.
 */
embedded_url: string, 
/**
 * The embedded server has no account yet: the window offers to create the owner.
 */
first_run: boolean, 
/**
 * Whether the OS keyring can keep refresh tokens.
 */
keyring: VaultStatus, 
/**
 * Where the embedded server's signing keys are kept, in words.
 */
signing_keys: string, 
/**
 * The app's version.
 */
version: string, 
/**
 * The remote server of the current (or last) session, to prefill the form.
 */
remote: RemoteServer | null, };

/**
 * The audit log's filters as the window sends them.
 */
export type AuditFilter = { 
/**
 * Events about or by this user.
 */
user?: number | null, 
/**
 * Event kinds; blank ones are dropped.
 */
kinds: Array<string>, 
/**
 * Unix seconds.
 */
since?: number | null, 
/**
 * Unix seconds.
 */
until?: number | null, 
/**
 * At most this many (500 when absent, never above 1000).
 */
limit?: number | null, };

/**
 * One line of the audit log.
 */
export type AuditRecord = { 
/**
 * Increasing: newer lines have larger ids.
 */
id: number, 
/**
 * Unix time.
 */
at: number, 
/**
 * e.g. `login_succeeded`, `reuse_detected`, `user_locked`.
 */
kind: string, 
/**
 * The user the event is about.
 */
subject: number | null, 
/**
 * The user who caused it.
 */
actor: number | null, 
/**
 * The session concerned.
 */
session_id: string | null, 
/**
 * The token concerned.
 */
jti: string | null, 
/**
 * The client's address.
 */
address: string | null, 
/**
 * Free text given by staff, or the engine's explanation.
 */
reason: string | null, 
/**
 * Whatever else the event records, as a JSON object.
 */
detail: JsonValue, };

/**
 * How an OpenID provider's browser logout went.
 */
export type BrowserLogoutOutcome = "opened" | "done" | "failed" | "skipped";

/**
 * What a server offers beyond SimpleJWT, so a client can degrade gracefully.
 */
export type Capabilities = { 
/**
 * The server's configured name.
 */
server: string, 
/**
 * The server's version.
 */
version: string, 
/**
 * The optional routes it serves (`logout`, `sessions`, `staff`, `jwks`, ...).
 */
features: Array<string>, 
/**
 * SimpleJWT's `ROTATE_REFRESH_TOKENS`: a refresh also answers a new refresh token.
 */
rotate_refresh_tokens: boolean, 
/**
 * SimpleJWT's `BLACKLIST_AFTER_ROTATION`: a rotated-away refresh token is refused.
 */
blacklist_after_rotation: boolean, 
/**
 * Seconds.
 */
access_token_lifetime: number, 
/**
 * Seconds.
 */
refresh_token_lifetime: number, 
/**
 * The words accepted before the token in `Authorization` (`Bearer`).
 */
auth_header_types: Array<string>, };

/**
 * Claim validation (time window, issuer, audience, Warden's claims), done
 * only when the signature is valid. Revocation is never checked here.
 */
export type ClaimCheck = { 
/**
 * The claims pass.
 */
ok: boolean, 
/**
 * The rejection's stable reason (`expired`, `wrong_audience`, ...), as
 * Warden sends it on the wire.
 */
reason: Reason | null, 
/**
 * The rejection, in words.
 */
message: string | null, };

/**
 * How a confidential client authenticates at the provider's token,
 * refresh and revocation endpoints.
 */
export type ClientAuthChoice = "automatic" | "basic" | "post";

/**
 * What a failed command answers, as the window receives it (the
 * serialized form of [`Error`]).
 */
export type CommandError = { 
/**
 * Stable, for the window's logic and for tests (`not_signed_in`, ...).
 */
code: string, 
/**
 * The user's words: the error's Display text.
 */
message: string, };

/**
 * What the manager reports, on a broadcast channel.
 */
export type Event = { "event": "state_changed" } & SessionState | { "event": "exchange" } & Exchange | { "event": "rotated", 
/**
 * Rotations so far.
 */
count: number, } | { "event": "vault_warning", 
/**
 * What the vault answered.
 */
message: string, } | { "event": "clock_jump", 
/**
 * Positive after a suspend or a clock set forward.
 */
seconds: number, };

/**
 * One request and its answer (or the lack of one).
 */
export type Exchange = { 
/**
 * Unix time in milliseconds when the request was sent.
 */
at: number, 
/**
 * The HTTP method (`GET`, `POST`, ...).
 */
method: string, 
/**
 * Relative to the base URL, query included; paths never carry tokens.
 */
path: string, 
/**
 * `None` when no answer came (network error, timeout).
 */
status: number | null, 
/**
 * From sending the request to the whole answer read.
 */
latency_ms: number, 
/**
 * The server's `code` (`token_not_valid`, `locked_out`, ...) or, when the
 * body has none, the client's (`connect`, `timeout`, `invalid_credentials`, ...).
 */
error_code: string | null, 
/**
 * Warden's `reason`, or SimpleJWT's message when there is no reason.
 */
reason: string | null, 
/**
 * Which credential went with the request, redacted (`access eyJhbG…`).
 */
credential: string | null, 
/**
 * Warden's request id, to find the server's log line.
 */
request_id: string | null, 
/**
 * The server's `detail` message when the request was refused.
 */
detail: string | null, 
/**
 * The full URL, query included (URLs never carry tokens).
 */
url: string, 
/**
 * Request headers that matter for reproducing it (Authorization with the
 * credential redacted, X-Warden-Device, Content-Type), in sending order.
 */
request_headers: Array<[string, string]>, 
/**
 * The JSON request body with passwords as `<password>` and tokens redacted.
 */
request_body: JsonValue | null, };

/**
 * One exchange of the timeline: as curl (tokens redacted unless `reveal`)
 * and, for a refusal, why.
 */
export type ExchangeDetail = { 
/**
 * The request as a `curl` command line.
 */
curl: string, 
/**
 * Why it was refused; `None` when it was not.
 */
explanation: Explanation | null, };

/**
 * A refusal explained.
 */
export type Explanation = { 
/**
 * Stable cause code: `expired`, `clock_skew`, `blacklisted_after_rotation`,
 * `reuse_detected`, `session_revoked`, `user_inactive`, `user_not_found`,
 * `wrong_token_type`, `no_credentials`, `wrong_header_type`, `bad_header`,
 * `bad_signature`, `malformed_token`, `not_issued_here`, `wrong_audience`,
 * `locked_out`, `throttled`, `wrong_credentials`, `forbidden`,
 * `unreachable`, `timeout`, `token_invalid`.
 */
code: string, 
/**
 * What happened, in plain language.
 */
cause: string, 
/**
 * What to do about it.
 */
fix: string, };

/**
 * The export's file format, as the window names it.
 */
export type ExportFormat = "jsonl" | "csv";

/**
 * A finished export, for the window to show.
 */
export type Exported = { 
/**
 * The file written.
 */
path: string, 
/**
 * How many audit entries it holds.
 */
lines: number, };

/**
 * Everything the inspector shows about one token.
 */
export type Inspection = { 
/**
 * The header, decoded.
 */
header: JsonValue, 
/**
 * The payload, decoded (unverified unless the signature is valid).
 */
payload: JsonValue, 
/**
 * The header as indented JSON.
 */
header_pretty: string, 
/**
 * The payload as indented JSON.
 */
payload_pretty: string, 
/**
 * The header's `alg`.
 */
alg: string | null, 
/**
 * The header's `kid`.
 */
kid: string | null, 
/**
 * The `TOKEN_TYPE_CLAIM` value, whatever it is.
 */
token_type: string | null, 
/**
 * The time claims.
 */
times: Times, 
/**
 * The `now` the inspection was made at (unix seconds).
 */
now: number, 
/**
 * The signature check's outcome.
 */
signature: SignatureStatus, 
/**
 * `Some` only when the signature is valid.
 */
claims: ClaimCheck | null, 
/**
 * What looks wrong.
 */
warnings: Array<Warning>, };

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * One step of an experiment, as the server answered it.
 */
export type LabStep = { 
/**
 * What was tried.
 */
what: string, 
/**
 * The server accepted it.
 */
ok: boolean, 
/**
 * What came back, in words.
 */
outcome: string, };

/**
 * `api/staff/sessions/{sid}/`: a session and its rotation chain, oldest first.
 */
export type Lineage = { 
/**
 * The session.
 */
session: SessionInfo, 
/**
 * `pair` or `sliding`.
 */
kind: string, 
/**
 * Who ended it (the user or a staff member); null while live or when the server did.
 */
revoked_by: number | null, 
/**
 * The newest token: the only one that may rotate.
 */
head_jti: string, 
/**
 * Every token of the chain.
 */
tokens: Array<LineageToken>, };

/**
 * One refresh or sliding token of a session's rotation chain. Never the token
 * itself, nor its hash.
 */
export type LineageToken = { 
/**
 * The token's id.
 */
jti: string, 
/**
 * `refresh` or `sliding`.
 */
token_type: string, 
/**
 * The token it was rotated from; null for the login's.
 */
parent_jti: string | null, 
/**
 * The token it was rotated into; null for the newest.
 */
successor_jti: string | null, 
/**
 * Unix time.
 */
issued_at: number, 
/**
 * Unix time.
 */
expires_at: number, 
/**
 * When it was rotated away.
 */
rotated_at: number | null, 
/**
 * Where the request that minted it came from.
 */
address: string | null, 
/**
 * The signing key.
 */
kid: string | null, };

/**
 * A session's rotation chain, with the audit lines that mention it
 * (rotations, grace replays, reuse detections, who revoked it and why).
 */
export type LineageView = { 
/**
 * The session and its rotation chain.
 */
lineage: Lineage, 
/**
 * The audit lines of the session (at most 500, newest first).
 */
events: Array<AuditRecord>, };

/**
 * `api/me/`.
 */
export type Me = { 
/**
 * The user's id.
 */
id: number, 
/**
 * The user's name.
 */
username: string, 
/**
 * The e-mail address, if any.
 */
email: string | null, 
/**
 * May use the staff routes.
 */
is_staff: boolean | null, 
/**
 * Not deactivated.
 */
is_active: boolean | null, 
/**
 * Unix time.
 */
date_joined: number | null, 
/**
 * Unix time of the last login; null before the first.
 */
last_login: number | null, 
/**
 * The session of the token the request was made with.
 */
session_id: string | null, };

/**
 * An OpenID provider as a profile's server: issuer, client id, scopes.
 */
export type OpenIdServer = { 
/**
 * The issuer URL (discovery starts there).
 */
issuer: string, 
/**
 * The registered client id.
 */
client_id: string, 
/**
 * A confidential client: its secret is in the profile's keyring entry
 * ([`client_secret_key`]); the way it is sent is [`OpenIdServer::client_auth`].
 */
confidential: boolean, 
/**
 * How a confidential client sends its secret on token, refresh and
 * revocation requests (not a secret itself).
 */
client_auth: ClientAuthChoice, 
/**
 * Scopes asked for besides `openid`.
 */
scopes: Array<string>, 
/**
 * An RFC 8707 resource indicator: the API the access tokens are for
 * (providers often issue them as JWTs, RFC 9068, for a resource).
 */
resource?: string | null, 
/**
 * Sender-constrained tokens (DPoP) when the provider offers them. Off
 * for profiles whose tokens `warden token` hands to other programs,
 * which cannot make proofs.
 */
dpop: boolean, };

/**
 * A revocation still to be delivered, as the window shows it.
 */
export type PendingRevocation = { 
/**
 * The outbox's id of it (`r-` and 12 hex digits).
 */
id: string, 
/**
 * The profile it was queued for (it may have been removed since).
 */
profile: ProfileId, 
/**
 * That profile's name then.
 */
profile_name: string, 
/**
 * The account whose session it ends.
 */
account: string, 
/**
 * Where it goes: `this computer` or the server's host and port.
 */
server: string, 
/**
 * What the server is to be told.
 */
what: Revocation, 
/**
 * Unix seconds.
 */
queued_at: number, 
/**
 * Deliveries tried so far.
 */
attempts: number, 
/**
 * Local Unix seconds of the next try (`None`: being delivered now).
 */
next_attempt_at: number | null, 
/**
 * Why the last try failed.
 */
last_error: string | null, 
/**
 * It survives a restart. False when the keyring could not take the
 * token: then it is delivered only while this app runs.
 */
persistent: boolean, 
/**
 * "This session will be revoked when auth.example.com is reachable."
 */
message: string, };

/**
 * Where the session is in its life.
 *
 * ```text
 *            login / restore ok
 * SignedOut ───────────────────────▶ Active ◀──────────┐
 *    ▲  ▲          │ restore        │   ▲   rotated     │ rotated
 *    │  │          ▼                ▼   │               │
 *    │  │      Restoring ───────▶ Rotating ──────▶ Offline { retry_in }
 *    │  │                           │   network/5xx    │  back-off 1 s → 30 s
 *    │  └── refused (reason) ───────┘                  │
 *    └──────── logout / refresh expired ───────────────┘
 * ```
 */
export type Phase = { "phase": "signed_out", 
/**
 * Why the last session ended.
 */
reason: SignOutReason | null, } | { "phase": "restoring" } | { "phase": "active" } | { "phase": "rotating" } | { "phase": "offline", 
/**
 * Milliseconds until the next try.
 */
retry_in_ms: number, 
/**
 * How many tries in a row failed (1 for the first).
 */
attempt: number, 
/**
 * The last failure, as text.
 */
cause: string, };

/**
 * One named session: a server, an account, a keyring entry.
 */
export type Profile = { 
/**
 * Stable; names its lock file and keyring entry.
 */
id: ProfileId, 
/**
 * Shown in the switcher and accepted by `warden token NAME`; unique
 * (case-insensitively) among the profiles.
 */
name: string, 
/**
 * Where it signs in.
 */
server: ServerKind, 
/**
 * The username signed in (or last signed in) with.
 */
account: string, 
/**
 * The refresh token's keyring entry: service `warden`, account
 * `{vault_key}|{account}`. `profile:{id}` for profiles made here; a
 * session carried over from before profiles keeps the entry it had.
 */
vault_key: string, };

/**
 * A profile's stable id: lowercase letters, digits and `-`, at most 40
 * (a random `p-` and 8 hex digits for new profiles). It names the lock file
 * and the keyring entry, so it never changes; the display name may.
 */
export type ProfileId = string;

/**
 * One profile as the window shows it.
 */
export type ProfileView = { 
/**
 * The profile.
 */
profile: Profile, 
/**
 * It is the one the window shows.
 */
active: boolean, 
/**
 * Its session now.
 */
session: StateView, 
/**
 * Its revocations waiting for the server.
 */
pending: Array<PendingRevocation>, };

/**
 * What the set reports, on one broadcast channel for every profile.
 */
export type ProfilesEvent = { "kind": "session", 
/**
 * Whose.
 */
profile: ProfileId, 
/**
 * What its manager said.
 */
event: Event, } | { "kind": "changed" } | { "kind": "activity", 
/**
 * Whose.
 */
profile: ProfileId, 
/**
 * The entry.
 */
activity: Activity, } | { "kind": "outbox" };

/**
 * What an OpenID provider's JWKS says about one of the session's tokens:
 * signature (key by `kid`), `iss`, `aud` and `exp`, and for a DPoP-bound
 * session whether the token's `cnf.jkt` is the session key's thumbprint.
 */
export type ProviderCheck = { 
/**
 * Which token.
 */
token: ProviderToken, 
/**
 * The provider (its issuer).
 */
issuer: string, 
/**
 * The token is a JWT; `false`: opaque, nothing to verify here.
 */
jwt: boolean, 
/**
 * Signature, `iss`, `aud` and `exp` all check out.
 */
verified: boolean, 
/**
 * In words: what was checked, or why it does not verify.
 */
reason: string, 
/**
 * The header's `alg`.
 */
alg: string | null, 
/**
 * The header's `kid`.
 */
kid: string | null, 
/**
 * The header, indented (JWTs only).
 */
header_pretty: string | null, 
/**
 * The claims, indented (JWTs; an opaque token's introspection answer).
 */
claims_pretty: string | null, 
/**
 * `exp`, unix seconds.
 */
exp: number | null, 
/**
 * The token's `cnf.jkt` (RFC 9449 §6), from its claims or introspection.
 */
cnf_jkt: string | null, 
/**
 * The thumbprint of the session's DPoP key (a sender-constrained session).
 */
session_jkt: string | null, 
/**
 * `cnf.jkt` equals the session key's thumbprint (`None`: nothing to compare).
 */
jkt_matches: boolean | null, };

/**
 * Which token of an OpenID session to check against its provider.
 */
export type ProviderToken = "id" | "access";

/**
 * Why Warden refused a token: the `reason` of its `token_not_valid` bodies.
 */
export type Reason = string;

/**
 * Empty strings mean "the default" (SimpleJWT's paths, `Bearer`).
 */
export type RemoteServer = { 
/**
 * The base URL; empty means the embedded server.
 */
url: string, 
/**
 * SimpleJWT's obtain-pair route.
 */
token_path: string, 
/**
 * SimpleJWT's refresh route.
 */
refresh_path: string, 
/**
 * SimpleJWT's verify route.
 */
verify_path: string, 
/**
 * SimpleJWT's blacklist route.
 */
blacklist_path: string, 
/**
 * The route that says who the token belongs to.
 */
me_path: string, 
/**
 * `AUTH_HEADER_TYPES`' word (`Bearer`, `JWT`).
 */
header_type: string, };

/**
 * What the server is to be told.
 */
export type Revocation = { "kind": "logout" } | { "kind": "logout_all" } | { "kind": "session", 
/**
 * Warden's id of that session.
 */
session_id: string, };

/**
 * How a logout (or log out everywhere, or a revoked session) went.
 */
export type RevocationOutcome = { "outcome": "delivered", 
/**
 * How many sessions ended, when the server says.
 */
revoked: number | null, } | { "outcome": "pending", 
/**
 * The outbox's entry, for the window.
 */
pending: PendingRevocation, } | { "outcome": "abandoned", 
/**
 * Why.
 */
reason: string, } | { "outcome": "not_signed_in" };

/**
 * What kind of server a profile signs in to. The window and the `warden`
 * command both read it; the OpenID providers of issue 16 become one more
 * kind here.
 */
export type ServerKind = { "kind": "embedded" } | { "kind": "remote" } & RemoteServer | { "kind": "open_id" } & OpenIdServer;

/**
 * One session (token family) as a user or a staff member sees it.
 */
export type SessionInfo = { 
/**
 * The session id: the tokens' `sid` claim.
 */
id: string, 
/**
 * The owner's id, as text (SimpleJWT's `user_id` claim is a string).
 */
user_id: string, 
/**
 * The `X-Warden-Device` header sent at login.
 */
device_label: string | null, 
/**
 * The `User-Agent` sent at login.
 */
user_agent: string | null, 
/**
 * The client's address at login.
 */
address: string | null, 
/**
 * Unix time of the login.
 */
created_at: number, 
/**
 * Unix time of the last rotation; null before the first.
 */
last_rotated_at: number | null, 
/**
 * How many times the refresh token was rotated.
 */
rotation_count: number, 
/**
 * When the newest refresh token of the session expires.
 */
expires_at: number, 
/**
 * The absolute cap: rotation cannot keep the session alive past this.
 */
max_expires_at: number, 
/**
 * Unix time the session ended; null while it is live.
 */
revoked_at: number | null, 
/**
 * Why it ended (`logout`, `reuse_detected`, ...).
 */
revoked_reason: Reason | null, 
/**
 * True for the session the request itself belongs to.
 */
current: boolean, };

/**
 * Everything the window shows about the session.
 */
export type SessionState = { 
/**
 * Where the session is in its life.
 */
phase: Phase, 
/**
 * The base URL.
 */
server: string, 
/**
 * The username signed in with.
 */
user: string | null, 
/**
 * The tokens' `user_id` claim.
 */
user_id: string | null, 
/**
 * Warden's session id (the `sid` claim), when the server sends one.
 */
session_id: string | null, 
/**
 * The access token held, if any.
 */
access: TokenInfo | null, 
/**
 * The refresh token held, if any.
 */
refresh: TokenInfo | null, 
/**
 * Local Unix seconds of the next scheduled rotation.
 */
next_rotation_at: number | null, 
/**
 * Rotations since this session's login or restore.
 */
rotation_count: number, 
/**
 * Where the refresh token is kept.
 */
vault: VaultInfo, 
/**
 * `None` for a plain SimpleJWT server (or before the first contact).
 */
capabilities: Capabilities | null, };

/**
 * One failed-login counter that names a user: their identifier from one
 * address (`pair`), or from every address (`identifier`).
 */
export type SignInThrottle = { 
/**
 * `pair` or `identifier`.
 */
scope: string, 
/**
 * The client address (pair counters).
 */
address: string | null, 
/**
 * Failed logins counted in the current window.
 */
failures: number, 
/**
 * Unix time the counting window began.
 */
window_started_at: number, 
/**
 * Refused until then: a lock (pair) or a delay (identifier).
 */
locked_until: number | null, 
/**
 * The last right password from this address: the address is known for the user.
 */
last_success_at: number | null, };

/**
 * Why a session ended. Terminal: only a new login (or a restore of another
 * stored session) leaves [`Phase::SignedOut`].
 */
export type SignOutReason = { "kind": "logged_out" } | { "kind": "revoked", 
/**
 * The server's reason, when it gave one.
 */
cause: string | null, } | { "kind": "reuse_detected" } | { "kind": "user_inactive" } | { "kind": "user_not_found" } | { "kind": "refresh_expired" } | { "kind": "password_changed" } | { "kind": "provider", 
/**
 * The OAuth `error` code.
 */
error: string, 
/**
 * The provider's `error_description`, when it sent one.
 */
description: string | null, } | { "kind": "rejected", 
/**
 * The server's message.
 */
message: string, };

/**
 * The outcome of the signature check.
 */
export type SignatureStatus = { "status": "valid", 
/**
 * Which key.
 */
key: string, } | { "status": "invalid", 
/**
 * Why, in words.
 */
why: string, } | { "status": "unchecked", 
/**
 * Why, in words.
 */
why: string, } | { "status": "key_not_found", 
/**
 * The token's `kid`, if it has one.
 */
kid: string | null, 
/**
 * Why, in words.
 */
why: string, };

/**
 * One staff action and whom it is on, as the window sends it:
 * `{"kind": "lock", "user_id": 2}`, `{"kind": "revoke_session", "session_id": "…"}`.
 */
export type StaffAction = { "kind": "revoke_session", 
/**
 * The session's id.
 */
session_id: string, } | { "kind": "logout_all", 
/**
 * Whose sessions.
 */
user_id: number, } | { "kind": "lock", 
/**
 * Whom.
 */
user_id: number, } | { "kind": "unlock", 
/**
 * Whom.
 */
user_id: number, } | { "kind": "deactivate", 
/**
 * Whom.
 */
user_id: number, } | { "kind": "reactivate", 
/**
 * Whom.
 */
user_id: number, } | { "kind": "set_password", 
/**
 * Whose.
 */
user_id: number, 
/**
 * The temporary password.
 */
password: string, };

/**
 * A user as staff see it.
 */
export type StaffUser = { 
/**
 * The user's id.
 */
id: number, 
/**
 * The user's name.
 */
username: string, 
/**
 * The e-mail address, if any.
 */
email: string | null, 
/**
 * The address was confirmed.
 */
email_verified: boolean, 
/**
 * Not deactivated.
 */
is_active: boolean, 
/**
 * May use the staff routes.
 */
is_staff: boolean, 
/**
 * Unix time.
 */
date_joined: number | null, 
/**
 * Unix time of the last login; null before the first.
 */
last_login: number | null, 
/**
 * Unix time of the last password change (by the user or staff).
 */
password_changed_at: number | null, 
/**
 * Locked by staff at the time of the request.
 */
locked: boolean, 
/**
 * When a staff lock ends; null when unlocked or locked until unlocked.
 */
locked_until: number | null, };

/**
 * `api/staff/users/{id}/`.
 */
export type StaffUserDetail = { 
/**
 * Failed-login counters naming this user, pair counters by address.
 */
throttles: Array<SignInThrottle>, 
/**
 * The user's id.
 */
id: number, 
/**
 * The user's name.
 */
username: string, 
/**
 * The e-mail address, if any.
 */
email: string | null, 
/**
 * The address was confirmed.
 */
email_verified: boolean, 
/**
 * Not deactivated.
 */
is_active: boolean, 
/**
 * May use the staff routes.
 */
is_staff: boolean, 
/**
 * Unix time.
 */
date_joined: number | null, 
/**
 * Unix time of the last login; null before the first.
 */
last_login: number | null, 
/**
 * Unix time of the last password change (by the user or staff).
 */
password_changed_at: number | null, 
/**
 * Locked by staff at the time of the request.
 */
locked: boolean, 
/**
 * When a staff lock ends; null when unlocked or locked until unlocked.
 */
locked_until: number | null, };

/**
 * The session as the window renders it.
 */
export type StateView = { 
/**
 * Signed in to this computer's embedded server.
 */
embedded: boolean, 
/**
 * Why the session ended, in the user's words (signed out only).
 */
signed_out_message: string | null, 
/**
 * Seconds the fault lab has skewed this app's clock by: the window adds
 * it to its own clock, so it shows what the session manager sees.
 */
clock_skew_s: number, 
/**
 * Where the session is in its life.
 */
phase: Phase, 
/**
 * The base URL.
 */
server: string, 
/**
 * The username signed in with.
 */
user: string | null, 
/**
 * The tokens' `user_id` claim.
 */
user_id: string | null, 
/**
 * Warden's session id (the `sid` claim), when the server sends one.
 */
session_id: string | null, 
/**
 * The access token held, if any.
 */
access: TokenInfo | null, 
/**
 * The refresh token held, if any.
 */
refresh: TokenInfo | null, 
/**
 * Local Unix seconds of the next scheduled rotation.
 */
next_rotation_at: number | null, 
/**
 * Rotations since this session's login or restore.
 */
rotation_count: number, 
/**
 * Where the refresh token is kept.
 */
vault: VaultInfo, 
/**
 * `None` for a plain SimpleJWT server (or before the first contact).
 */
capabilities: Capabilities | null, };

/**
 * The token's time claims, as unix seconds (the UI renders local times).
 */
export type Times = { 
/**
 * Expiry.
 */
exp: number | null, 
/**
 * Issued at.
 */
iat: number | null, 
/**
 * Not before.
 */
nbf: number | null, 
/**
 * A sliding token's refresh deadline (`SLIDING_TOKEN_REFRESH_EXP_CLAIM`).
 */
refresh_exp: number | null, 
/**
 * `exp - iat`, when both are present.
 */
lifetime: number | null, };

/**
 * Times and ids of one token (never the token).
 */
export type TokenInfo = { 
/**
 * The token's id.
 */
jti: string | null, 
/**
 * As in the token (the server's clock).
 */
iat: number | null, 
/**
 * As in the token (the server's clock).
 */
exp: number | null, 
/**
 * Local Unix seconds when it expires (server time corrected for clock skew).
 */
expires_at: number | null, 
/**
 * `eyJhbG…`: enough to tell it is there, nothing more.
 */
hint: string, };

/**
 * Which token to inspect, as the window sends it:
 * `{"kind": "access"}`, `{"kind": "pasted", "value": "eyJ…"}`.
 */
export type TokenInput = { "kind": "access" } | { "kind": "refresh" } | { "kind": "pasted", "value": string };

/**
 * Which users the search lists.
 */
export type UserFilter = "all" | "active" | "inactive" | "locked" | "staff";

/**
 * A user's page: profile, failed sign-ins, lock state, and sessions.
 */
export type UserView = { 
/**
 * The profile, failed sign-ins and lock state.
 */
detail: StaffUserDetail, 
/**
 * The user's sessions, ended ones included.
 */
sessions: Array<SessionInfo>, };

/**
 * Where the refresh token is kept, for the keyring indicator.
 */
export type VaultInfo = { 
/**
 * Whether the vault can keep secrets now.
 */
status: VaultStatus, 
/**
 * False when the session lives in memory only (no keyring): it ends with the app.
 */
persistent: boolean, 
/**
 * The current refresh token is in the vault.
 */
stored: boolean, 
/**
 * The last failure to write or delete, if the vault is behind.
 */
warning: string | null, };

/**
 * Whether secrets can be kept, as the app tells the user.
 */
export type VaultStatus = { "kind": "available", "detail": { 
/**
 * The store's name, for the user.
 */
backend: string, } } | { "kind": "locked" } | { "kind": "unavailable", "detail": string };

/**
 * What to check the signature with.
 */
export type VerifyInput = { "kind": "none" } | { "kind": "server" } | { "kind": "secret", "value": string } | { "kind": "pem", "value": string } | { "kind": "jwks_url", "value": string };

/**
 * Something about the token worth a second look.
 */
export type Warning = { 
/**
 * What kind.
 */
code: WarningCode, 
/**
 * The details, in words.
 */
message: string, };

/**
 * Machine-readable warning codes.
 */
export type WarningCode = "alg_none" | "alg_not_allowed" | "missing_kid" | "short_hmac_key" | "missing_exp" | "exp_not_integer" | "expired" | "lifetime_too_long" | "refresh_window_too_long" | "iat_in_future" | "nbf_in_future" | "token_type_missing" | "token_type_unknown" | "missing_jti" | "kid_unknown";
