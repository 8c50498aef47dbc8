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
 *   rotation_count: number, vault: VaultInfo, embedded: boolean, signed_out_message?: string|null}} SessionView
 * @typedef {{url: string, token_path?: string, refresh_path?: string, verify_path?: string,
 *   blacklist_path?: string, me_path?: string, header_type?: string}} RemoteServer
 * @typedef {{server_url: string, embedded: boolean, embedded_url: string, first_run: boolean,
 *   keyring: VaultStatus, signing_keys: string, version: string, remote?: RemoteServer|null}} AppInfo
 * @typedef {{id: number, username: string, path: string}} AccessCheck
 * @typedef {{id: string, device_label?: string|null, user_agent?: string|null, address?: string|null,
 *   created_at: number, last_rotated_at?: number|null, rotation_count: number, expires_at: number,
 *   revoked_at?: number|null, current?: boolean}} SessionRow
 * @typedef {{at: number, method: string, path: string, status?: number|null, latency_ms: number,
 *   error_code?: string|null, reason?: string|null}} Exchange
 * @typedef {{code: string, message: string}} CommandError
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
/** @param {string} username @param {string} password @returns {Promise<SessionView>} */
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

/**
 * @param {'session-changed' | 'exchange' | 'session-note'} name
 * @param {(payload: any) => void} handler
 */
export function on(name, handler) {
  return tauri().event.listen(name, (/** @type {{payload: any}} */ e) => handler(e.payload));
}
