// @ts-check
/**
 * The only module that touches `window.__TAURI__`: typed wrappers over the
 * app's commands and events.
 */

/**
 * @typedef {{jti?: string|null, iat?: number|null, exp?: number|null, expires_at?: number|null, hint: string}} TokenInfo
 * @typedef {{kind: string, detail?: any}} VaultStatus
 * @typedef {{status: VaultStatus, persistent: boolean, stored: boolean, warning?: string|null}} VaultInfo
 * @typedef {{phase: string, reason?: {kind: string, cause?: string|null}|null, retry_in_ms?: number, attempt?: number, cause?: string}} PhaseObj
 * @typedef {{phase: PhaseObj, server: string, user?: string|null, session_id?: string|null,
 *   access?: TokenInfo|null, refresh?: TokenInfo|null, next_rotation_at?: number|null,
 *   rotation_count: number, vault: VaultInfo, embedded: boolean, signed_out_message?: string|null, clock_skew_s?: number}} SessionView
 * @typedef {{url: string, token_path?: string, refresh_path?: string, verify_path?: string,
 *   blacklist_path?: string, me_path?: string, header_type?: string}} RemoteServer
 * @typedef {{server_url: string, embedded: boolean, embedded_url: string, first_run: boolean,
 *   keyring: VaultStatus, signing_keys: string, version: string, remote?: RemoteServer|null}} AppInfo
 * @typedef {{owner: boolean, session: SessionView}} AccountCreated the first local account owns the embedded server (staff)
 * @typedef {{id: number, username: string, path: string}} AccessCheck
 * @typedef {{id: number, username: string, is_staff?: boolean|null}} Me
 * @typedef {{curl: string, explanation?: {cause: string, fix: string, code?: string|null}|null}} ExchangeDetail
 * @typedef {{id: string, device_label?: string|null, user_agent?: string|null, address?: string|null,
 *   created_at: number, last_rotated_at?: number|null, rotation_count: number, expires_at: number,
 *   revoked_at?: number|null, current?: boolean}} SessionRow
 * @typedef {{at: number, method: string, path: string, status?: number|null, latency_ms: number,
 *   error_code?: string|null, reason?: string|null}} Exchange
 * @typedef {{code: string, message: string}} CommandError
 * @typedef {{id: number, username: string, email?: string|null, is_active: boolean, is_staff: boolean,
 *   date_joined?: number|null, last_login?: number|null, locked: boolean, locked_until?: number|null}} StaffUser
 * @typedef {{scope: 'pair'|'identifier', address?: string|null, failures: number, window_started_at: number,
 *   locked_until?: number|null, last_success_at?: number|null}} SignInThrottle
 * @typedef {StaffUser & {throttles?: SignInThrottle[]}} StaffUserDetail
 * @typedef {{id: string, device_label?: string|null, user_agent?: string|null, address?: string|null, created_at: number,
 *   last_rotated_at?: number|null, rotation_count: number, expires_at: number, revoked_at?: number|null, revoked_reason?: string|null}} StaffSession
 * @typedef {{detail: StaffUserDetail, sessions: StaffSession[]}} UserView
 * @typedef {{jti: string, token_type: string, parent_jti?: string|null, successor_jti?: string|null, issued_at: number,
 *   expires_at: number, rotated_at?: number|null, address?: string|null}} LineageToken
 * @typedef {{id: number, at: number, kind: string, subject?: number|null, actor?: number|null, session_id?: string|null,
 *   jti?: string|null, address?: string|null, reason?: string|null, detail?: any}} AuditRecord
 * @typedef {{lineage: {session: StaffSession, kind: string, revoked_by?: number|null, head_jti: string, tokens: LineageToken[]}, events: AuditRecord[]}} LineageView
 * @typedef {{user: number|null, kinds: string[], since: number|null, until: number|null}} AuditFilter
 * @typedef {{action: string, reason: string, userId?: number|null, sessionId?: string|null, password?: string|null}} StaffActionArgs
 *   action: revoke_session (needs sessionId), logout_all, lock, unlock, deactivate, reactivate, set_password (needs password); the others need userId
 * @typedef {{kind: 'revoke_session', session_id: string}
 *   | {kind: 'logout_all'|'lock'|'unlock'|'deactivate'|'reactivate', user_id: number}
 *   | {kind: 'set_password', user_id: number, password: string}} StaffAction what the app reads: whom the action is on travels with its kind
 * @typedef {'all'|'active'|'inactive'|'locked'|'staff'} UserFilter
 * @typedef {{status: string, key?: string, why?: string, kid?: string|null}} Signature
 * @typedef {{header_pretty: string, payload_pretty: string, alg?: string|null, kid?: string|null, token_type?: string|null,
 *   times: {exp?: number|null, iat?: number|null, nbf?: number|null, lifetime?: number|null}, now: number, signature: Signature,
 *   claims?: {ok: boolean, reason?: string|null, message?: string|null}|null, warnings: {code: string, message: string}[]}} Inspection
 * @typedef {{kind: 'none'|'server'|'secret'|'pem'|'jwks_url', value?: string}} VerifyInput
 * @typedef {{kind: 'access'|'refresh'} | {kind: 'pasted', value: string}} TokenInput the current access or refresh token, or a pasted one
 * @typedef {{what: string, ok: boolean, outcome: string}} LabStep
 */

/** @returns {any} */
function tauri() {
  const t = /** @type {any} */ (window).__TAURI__;
  if (!t) throw { code: 'no_tauri', message: 'This page must run inside the Warden app.' };
  return t;
}

/**
 * @param {string} cmd
 * @param {Record<string, unknown>} [args]
 */
async function call(cmd, args) {
  try {
    return await tauri().core.invoke(cmd, args);
  } catch (e) {
    if (e && typeof e === 'object' && 'message' in e) throw e;
    throw { code: 'ipc', message: String(e) };
  }
}

/** @returns {Promise<AppInfo>} */
export const appInfo = () => call('app_info');
/** @returns {Promise<SessionView>} */
export const sessionState = () => call('session_state');
/** @param {string} username @param {string} password @returns {Promise<AccountCreated>} */
export const createAccount = (username, password) => call('create_account', { username, password });
/** @param {string} username @param {string} password @param {RemoteServer|null} remote null: this computer @returns {Promise<SessionView>} */
export const signIn = (username, password, remote) => call('sign_in', { username, password, remote });
/** @returns {Promise<AccessCheck>} */
export const checkAccess = () => call('check_access');
/** @returns {Promise<SessionView>} */
export const rotateNow = () => call('rotate_now');
/** @returns {Promise<void>} */
export const logOut = () => call('log_out');
/** @returns {Promise<number>} */
export const logOutEverywhere = () => call('log_out_everywhere');
/** @returns {Promise<SessionRow[]>} */
export const sessions = () => call('sessions');
/** @param {string} id @returns {Promise<boolean>} */
export const revokeSession = (id) => call('revoke_session', { id });
/** @returns {Promise<Exchange[]>} */
export const timeline = () => call('timeline');
/** @returns {Promise<Me>} */
export const myAccount = () => call('my_account');
/** @param {string} q @param {string} filter a {@link UserFilter} @returns {Promise<StaffUser[]>} */
export const staffUsers = (q, filter) => call('staff_users', { q, filter });
/** @param {number} id @returns {Promise<UserView>} */
export const staffUser = (id) => call('staff_user', { id });
/** @param {string} sessionId @returns {Promise<LineageView>} */
export const staffLineage = (sessionId) => call('staff_lineage', { sessionId });
/** @param {StaffActionArgs} a @returns {Promise<string>} */
export const staffAction = (a) => call('staff_action', { action: staffActionOf(a), reason: a.reason });

/**
 * The action as the app reads it ({@link StaffAction}); fields the kind does not take are left out.
 * @param {StaffActionArgs} a
 * @returns {StaffAction}
 */
function staffActionOf(a) {
  return /** @type {StaffAction} */ ({ kind: a.action, user_id: a.userId ?? undefined, session_id: a.sessionId ?? undefined, password: a.password ?? undefined });
}
/** @param {AuditFilter} filter @returns {Promise<AuditRecord[]>} */
export const staffAudit = (filter) => call('staff_audit', { filter });
/** @param {'jsonl'|'csv'} format @param {AuditFilter} filter @returns {Promise<{path: string, lines: number}>} */
export const exportAudit = (format, filter) => call('export_audit', { format, filter });
/** @param {{token?: string|null, pick?: 'access'|'refresh'|null, verify: VerifyInput}} a pick: the current token, else the pasted one @returns {Promise<Inspection>} */
export const inspectToken = (a) => call('inspect_token', { token: tokenInputOf(a), verify: a.verify });

/** @param {{token?: string|null, pick?: 'access'|'refresh'|null}} a @returns {TokenInput} */
function tokenInputOf(a) {
  return a.pick ? { kind: a.pick } : { kind: 'pasted', value: a.token ?? '' };
}
/** @returns {Promise<LabStep[]>} */
export const labReplayPrevious = () => call('lab_replay_previous');
/** @param {number} n @returns {Promise<LabStep[]>} */
export const labConcurrentRefresh = (n) => call('lab_concurrent_refresh', { n });
/** @param {number} secs @returns {Promise<LabStep[]>} */
export const labClockSkew = (secs) => call('lab_clock_skew', { secs });
/** @param {boolean} online @returns {Promise<boolean>} */
export const labServerOnline = (online) => call('lab_server_online', { online });
/** @param {number} at @param {boolean} reveal @returns {Promise<ExchangeDetail>} */
export const exchangeDetail = (at, reveal) => call('exchange_detail', { at, reveal });

/**
 * @param {'session-changed' | 'exchange' | 'session-note'} name
 * @param {(payload: any) => void} handler
 */
export function on(name, handler) {
  return tauri().event.listen(name, (/** @type {{payload: any}} */ e) => handler(e.payload));
}
