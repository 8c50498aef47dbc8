// @ts-check
/**
 * The only module that touches `window.__TAURI__`: typed wrappers over the
 * app's commands and events.
 */

/**
 * What crosses the IPC boundary is typed in ./wire.d.ts, rendered from the
 * Rust types (crates/warden-desktop/tests/wire_types.rs); the names below are
 * the window's names for them. Only StaffActionArgs is the window's own.
 * @typedef {import('./wire').TokenInfo} TokenInfo
 * @typedef {import('./wire').VaultStatus} VaultStatus
 * @typedef {import('./wire').VaultInfo} VaultInfo
 * @typedef {import('./wire').Phase} PhaseObj
 * @typedef {import('./wire').StateView} SessionView
 * @typedef {import('./wire').RemoteServer} RemoteServer
 * @typedef {import('./wire').AppInfo} AppInfo
 * @typedef {import('./wire').AccountCreated} AccountCreated
 * @typedef {import('./wire').AccessCheck} AccessCheck
 * @typedef {import('./wire').ClientAuthChoice} ClientAuthChoice
 * @typedef {import('./wire').Me} Me
 * @typedef {import('./wire').ExchangeDetail} ExchangeDetail
 * @typedef {import('./wire').SessionInfo} SessionRow
 * @typedef {import('./wire').Exchange} Exchange
 * @typedef {import('./wire').CommandError} CommandError
 * @typedef {import('./wire').StaffUser} StaffUser
 * @typedef {import('./wire').SignInThrottle} SignInThrottle
 * @typedef {import('./wire').StaffUserDetail} StaffUserDetail
 * @typedef {import('./wire').SessionInfo} StaffSession
 * @typedef {import('./wire').UserView} UserView
 * @typedef {import('./wire').LineageToken} LineageToken
 * @typedef {import('./wire').AuditRecord} AuditRecord
 * @typedef {import('./wire').LineageView} LineageView
 * @typedef {import('./wire').AuditFilter} AuditFilter
 * @typedef {import('./wire').StaffAction} StaffAction
 * @typedef {import('./wire').UserFilter} UserFilter
 * @typedef {import('./wire').SignatureStatus} Signature
 * @typedef {import('./wire').Inspection} Inspection
 * @typedef {import('./wire').VerifyInput} VerifyInput
 * @typedef {import('./wire').TokenInput} TokenInput
 * @typedef {import('./wire').ProviderCheck} ProviderCheck
 * @typedef {import('./wire').ProviderToken} ProviderToken
 * @typedef {import('./wire').LabStep} LabStep
 * @typedef {import('./wire').ExportFormat} ExportFormat
 * @typedef {import('./wire').Exported} Exported
 * @typedef {import('./wire').ProfileView} ProfileView
 * @typedef {import('./wire').Profile} Profile
 * @typedef {import('./wire').ServerKind} ServerKind
 * @typedef {import('./wire').Activity} Activity
 * @typedef {import('./wire').PendingRevocation} PendingRevocation
 * @typedef {import('./wire').RevocationOutcome} RevocationOutcome
 * @typedef {import('./wire').ProfilesEvent} ProfilesEvent
 * @typedef {{action: StaffAction['kind'], reason: string, userId?: number|null, sessionId?: string|null, password?: string|null}} StaffActionArgs
 *   the form's fields; staffActionOf turns them into a StaffAction (revoke_session needs sessionId,
 *   set_password a password, the others userId)
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
/**
 * "Add an OpenID provider": the sign-in happens in the system browser.
 * A confidential client's secret goes to the keyring; null: a public client.
 * `clientAuth`: how that secret is sent (automatic: from the provider's
 * discovery); `resource`: an RFC 8707 resource indicator, null for none.
 * @param {string} issuer @param {string} clientId @param {string|null} clientSecret @param {string[]} scopes @param {boolean} dpop
 * @param {ClientAuthChoice} clientAuth @param {string|null} resource
 * @returns {Promise<SessionView>}
 */
export const addOpenIdProvider = (issuer, clientId, clientSecret, scopes, dpop, clientAuth, resource) =>
  call('add_openid_provider', { issuer, clientId, clientSecret, scopes, dpop, clientAuth, resource });
/** @returns {Promise<AccessCheck>} */
export const checkAccess = () => call('check_access');
/**
 * "Rotate now": `seen` is the token the window showed (the access token's jti,
 * else the refresh token's), so a click on a session that rotated meanwhile
 * (the retry after an outage) does not rotate again; the fault lab omits it.
 * @param {string|null} [seen] @returns {Promise<SessionView>}
 */
export const rotateNow = (seen) => call('rotate_now', { seen });
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
/** @param {ExportFormat} format @param {AuditFilter} filter @returns {Promise<Exported>} */
export const exportAudit = (format, filter) => call('export_audit', { format, filter });
/** @param {{token?: string|null, pick?: 'access'|'refresh'|null, verify: VerifyInput}} a pick: the current token, else the pasted one @returns {Promise<Inspection>} */
export const inspectToken = (a) => call('inspect_token', { token: tokenInputOf(a), verify: a.verify });

/** An OpenID profile's ID or access token checked against its provider's JWKS. @param {ProviderToken} token @returns {Promise<ProviderCheck>} */
export const inspectWithProvider = (token) => call('inspect_with_provider', { token });

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

/** @returns {Promise<ProfileView[]>} every profile, its session and pending revocations */
export const profiles = () => call('profiles');
/** @param {string} id @returns {Promise<void>} */
export const switchProfile = (id) => call('switch_profile', { id });
/** @param {string} id @param {string} name @returns {Promise<void>} */
export const renameProfile = (id, name) => call('rename_profile', { id, name });
/** @param {string} id @returns {Promise<RevocationOutcome>} */
export const removeProfile = (id) => call('remove_profile', { id });
/**
 * A new profile, signed in; it becomes the one shown.
 * @param {ServerKind} server @param {string} username @param {string} password @param {string|null} name
 * @returns {Promise<string>} its id
 */
export const addProfile = (server, username, password, name) => call('add_profile', { server, username, password, name });
/** @returns {Promise<Activity[]>} the shown profile's hand-outs and revocations, oldest first */
export const activity = () => call('activity');

/**
 * @param {'session-changed' | 'exchange' | 'session-note' | 'profiles-event' | 'focus-requested'} name
 * @param {(payload: any) => void} handler
 */
export function on(name, handler) {
  return tauri().event.listen(name, (/** @type {{payload: any}} */ e) => handler(e.payload));
}
