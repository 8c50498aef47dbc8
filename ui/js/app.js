// @ts-check
/** The app shell: top bar, rail, which view shows, one 1-second timer. */
import * as ipc from './ipc.js';
import { h } from './dom.js';
import { formatLeft } from './countdown.js';
import * as signin from './views/signin.js';
import * as session from './views/session.js';
import * as sessions from './views/sessions.js';
import * as staff from './views/staff.js';
import * as audit from './views/audit.js';
import * as inspector from './views/inspector.js';
import * as timeline from './views/timeline.js';
import * as profiles from './views/profiles.js';
import { pendingWords, activeView } from './profilestate.js';

/** @type {{info: ipc.AppInfo | null, state: ipc.SessionView | null, recent: ipc.Exchange[],
 *   view: string, notice: string | null, screen: string, offlineUntil: number, staff: boolean, owner: boolean,
 *   signinDrawnFor: boolean | null}} */
const app = { info: null, state: null, recent: [], view: 'session', notice: null, screen: '', offlineUntil: 0, staff: false, owner: false, signinDrawnFor: null };

/** Shows the staff console when the server says this account is staff (it enforces that too). */
async function checkStaff() {
  let isStaff = false;
  try { isStaff = !!(await ipc.myAccount()).is_staff; } catch { isStaff = false; }
  app.staff = isStaff && signedIn();
  for (const el of document.querySelectorAll('.staff-only')) /** @type {HTMLElement} */ (el).hidden = !app.staff;
  if (!app.staff && (app.view === 'users' || app.view === 'audit')) { app.view = 'session'; render(); }
}

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

function signedIn() {
  const p = app.state?.phase.phase;
  return p === 'active' || p === 'rotating' || p === 'offline';
}

/** @param {ipc.VaultInfo | undefined} v */
function keyringText(v) {
  if (!v) return 'keyring: …';
  const s = v.status;
  const where = s.kind === 'available' ? (s.detail?.backend || 'available') : s.kind === 'locked' ? 'locked' : 'unavailable';
  const stored = v.stored ? 'stored' : 'not stored';
  return `keyring: ${where}, ${stored}`;
}

/** @param {ipc.VaultStatus} k the app's real write/read probe */
function keyringProbe(k) {
  if (k.kind === 'available') return `keyring: ${k.detail?.backend || 'available'}`;
  return k.kind === 'locked' ? 'keyring: locked' : 'keyring: unavailable (sessions kept in memory only)';
}

function paintTopbar() {
  const s = app.state;
  const where = s?.embedded !== false && app.info
    ? `Embedded (${app.info.embedded_url.replace(/^http:\/\//, '').replace(/\/$/, '')})`
    : s?.server || '';
  $('who').textContent = signedIn() && s?.user ? `${s.user} @ ${where}` : where;
  $('who').dataset.url = app.info?.embedded_url || '';
  const conn = $('conn');
  conn.hidden = !signedIn();
  const offline = s?.phase.phase === 'offline';
  conn.textContent = offline ? 'offline' : 'online';
  conn.className = `pill ${offline ? 'warn' : 'ok'}`;
  const kr = $('keyring');
  kr.textContent = signedIn() || !app.info ? keyringText(s?.vault) : keyringProbe(app.info.keyring);
  kr.className = `pill ${s?.vault?.stored ? 'ok' : signedIn() ? 'warn' : ''}`;
  kr.title = s?.vault?.warning || '';
  const banner = $('offline');
  banner.hidden = !offline;
  if (offline) {
    const left = Math.max(0, (app.offlineUntil - Date.now()) / 1000);
    banner.textContent = `Server unreachable, retrying in ${formatLeft(left)}. Your session is kept.`;
  }
}

/** The rail's buttons say which view shows. */
function markRail() {
  for (const b of $('rail').querySelectorAll('button')) {
    if (b instanceof HTMLElement) {
      if (b.dataset.view === app.view) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    }
  }
}

function render() {
  const main = $('main');
  const rail = $('rail');
  if (app.state && (app.view === 'profiles' || app.view === 'add-profile')) {
    // Reachable signed out too (from the switcher): profiles are not a session's.
    rail.hidden = !signedIn();
    markRail();
    app.screen = app.view;
    if (app.view === 'profiles') profiles.renderManage(main, { onAdd: () => show('add-profile'), onChange: () => refreshProfiles() });
    else {
      profiles.renderAdd(main, {
        onDone: () => { app.view = 'session'; refreshProfiles(); reload(); },
        onCancel: () => show(profiles.views().length ? 'profiles' : 'session'),
      });
    }
    return;
  }
  if (!app.state) {
    app.screen = 'starting';
    main.replaceChildren(h('p', { class: 'meta' }, 'Starting the local server…'));
    return;
  }
  if (app.state.phase.phase === 'restoring') {
    app.screen = 'restoring';
    rail.hidden = true;
    main.replaceChildren(h('p', { class: 'meta', role: 'status' }, 'Restoring your session from the keyring…'));
    return;
  }
  if (!signedIn()) {
    app.screen = 'signin';
    rail.hidden = true;
    const phase = app.state.phase;
    const reason = phase.phase === 'signed_out' ? phase.reason : null;
    const ended = reason && reason.kind !== 'logged_out' ? app.state.signed_out_message : null;
    // The notice stays until the user is signed in again: the sign-in screen can
    // be drawn twice (first_run changes once app_info answers), and the second
    // drawing must still say why the user is here.
    // What the form was drawn for: refreshInfo redraws only when that changes,
    // never because the user toggled between creating and signing in.
    app.signinDrawnFor = !!app.info?.first_run && !app.info?.remote;
    signin.render(main, {
      firstRun: !!app.info?.first_run, notice: app.notice || ended, remote: app.info?.remote,
      // The session-changed event may have drawn the session view already.
      onCreated: (created) => { app.owner = created.owner; if (app.screen === 'session') render(); },
    });
    paintPending();
    return;
  }
  rail.hidden = false;
  markRail();
  app.screen = app.view;
  const embedded = app.state.embedded !== false;
  // An OpenID provider's profile: Warden-only features are shown as unavailable.
  const openId = activeOpenId();
  if (app.view === 'sessions') {
    sessions.render(main, { openId });
  } else if (app.view === 'users') {
    staff.render(main);
  } else if (app.view === 'audit') {
    audit.render(main);
  } else if (app.view === 'inspector') {
    inspector.render(main, { embedded, openId });
  } else if (app.view === 'timeline') {
    timeline.render(main, { embedded, session: () => app.state });
  } else {
    session.render(main, {
      owner: app.owner,
      openId,
      onDismissOwner: () => { app.owner = false; render(); $('main').focus(); },
      // The command's answer and the signed-out event race: when the event won,
      // the sign-in screen is already up without the notice, so draw it again.
      onDone: (notice) => { app.notice = notice; if (app.screen === 'signin') render(); },
      onError: (msg) => {
        // The action may have ended the session (the sign-in screen replaced this
        // view): the error must still be seen.
        if (app.screen === 'signin') { app.notice = msg; render(); } else { $('recent').textContent = msg; }
      },
    });
    session.tick(app.state, app.recent);
  }
}

/** @param {ipc.SessionView} s */
function setState(s) {
  const before = signedIn() ? 'in' : app.state?.phase.phase;
  app.state = s;
  if (s.phase.phase === 'offline') app.offlineUntil = Date.now() + (s.phase.retry_in_ms || 0);
  const after = signedIn() ? 'in' : s.phase.phase;
  paintTopbar();
  if (before !== after) {
    if (after === 'in') { app.view = 'session'; app.notice = null; checkStaff(); }
    if (after !== 'in') { app.staff = false; app.owner = false; for (const el of document.querySelectorAll('.staff-only')) /** @type {HTMLElement} */ (el).hidden = true; }
    if (after !== 'in') refreshInfo();
    render();
  } else if (app.screen === 'session') {
    session.tick(s, app.recent);
  } else if (app.screen === 'sessions') {
    sessions.refresh();
  }
}

/** Shows `view` (and its rail button). @param {string} view */
function show(view) {
  app.view = view;
  render();
  $('main').focus();
}

/**
 * On the sign-in screen of a profile that was logged out while its server
 * was away: what still waits to be revoked, until it is delivered.
 */
function paintPending() {
  const v = activeView(profiles.views());
  const old = document.getElementById('pending-notice');
  const items = v ? v.pending.map((p) => pendingWords(p)) : [];
  if (!items.length || app.screen !== 'signin') { old?.remove(); return; }
  const box = h('div', { class: 'notice', id: 'pending-notice', role: 'status' },
    h('b', null, 'Signed out here. '), ...items.map((t) => h('div', { class: 'pending' }, t)));
  if (old) old.replaceWith(box);
  else $('main').prepend(box);
}

/** The active profile's OpenID issuer (null: a Warden or SimpleJWT server). @returns {string | null} */
function activeOpenId() {
  const server = activeView(profiles.views())?.profile.server;
  return server?.kind === 'open_id' ? server.issuer : null;
}

/** @type {Promise<void> | null} */
let profilesQueued = null;
/** Reloads every profile's view for the switcher (coalesced: one call per burst of events). */
function refreshProfiles() {
  if (profilesQueued) return profilesQueued;
  profilesQueued = (async () => {
    await new Promise((r) => setTimeout(r, 100));
    profilesQueued = null;
    const before = activeOpenId();
    try {
      profiles.setViews(await ipc.profiles());
    } catch { return; }
    // The session's views show Warden-only features as unavailable for an
    // OpenID profile: drawn again when that changes (the list may arrive
    // after the session did).
    if (activeOpenId() !== before && ['session', 'sessions', 'inspector'].includes(app.screen)) render();
    if (app.screen === 'profiles') profiles.tickManage(Date.now());
    if (app.screen === 'signin') paintPending();
  })();
  return profilesQueued;
}

/** The shown profile changed: its state, its exchanges, the view drawn again. */
async function reload() {
  try {
    app.recent = (await ipc.timeline()).reverse();
    app.state = null;
    setState(await ipc.sessionState());
    app.info = await ipc.appInfo();
    paintTopbar();
  } catch { /* the next event redraws */ }
  render();
  if (signedIn()) checkStaff();
}

async function refreshInfo() {
  try {
    app.info = await ipc.appInfo();
    paintTopbar();
    if (app.screen === 'signin' && !signedIn()) {
      // first_run or the last remote server may have changed what the form is
      // for. Compared with what it was drawn for, not with its title: the user
      // may have switched between creating an account and signing in.
      const wantCreate = !!app.info.first_run && !app.info.remote;
      if (wantCreate !== app.signinDrawnFor) render();
    }
  } catch { /* shown by the next state */ }
}

async function main() {
  profiles.initSwitcher({
    onChange: () => { refreshProfiles(); },
    onManage: () => show('profiles'),
    onAdd: () => show('add-profile'),
  });
  $('rail').addEventListener('click', (e) => {
    const b = /** @type {HTMLElement} */ (e.target).closest('button');
    if (b && b.dataset.view) {
      app.view = /** @type {any} */ (b.dataset.view);
      render();
      $('main').focus();
    }
  });
  render();
  try {
    await ipc.on('session-changed', (s) => setState(s));
    await ipc.on('exchange', (x) => {
      app.recent.unshift(x);
      app.recent.length = Math.min(app.recent.length, 20);
      if (app.screen === 'session' && app.state) session.tick(app.state, app.recent);
      if (app.screen === 'timeline') timeline.refresh();
    });
    /** @type {string | null} */
    let shown = null;
    await ipc.on('profiles-event', (/** @type {ipc.ProfilesEvent} */ e) => {
      if (e.kind === 'changed') {
        // Another profile shown: its state, its exchanges, the view again.
        refreshProfiles().then(async () => {
          const v = activeView(profiles.views());
          const id = v?.profile.id ?? null;
          if (id === shown) return;
          const was = shown;
          shown = id;
          if (app.view === 'add-profile') return;
          if (was === null || (app.screen === 'signin' && !!v && v.session.phase.phase !== 'signed_out')) {
            // A sign-in made or picked this profile: its session event draws
            // the view (redrawing it again here would race the user's first
            // click); only the exchanges are another profile's.
            try { app.recent = (await ipc.timeline()).reverse(); } catch { /* the next exchange fills it */ }
            return;
          }
          reload();
        });
      } else if (e.kind === 'outbox') {
        refreshProfiles();
      } else if (e.kind === 'activity') {
        if (app.screen === 'timeline' && e.profile === activeView(profiles.views())?.profile.id) timeline.refresh();
      } else if (e.kind === 'session' && e.event.event !== 'exchange') {
        refreshProfiles();
      }
    });
    app.info = await ipc.appInfo();
    profiles.setViews(await ipc.profiles());
    shown = activeView(profiles.views())?.profile.id ?? null;
    app.recent = (await ipc.timeline()).reverse();
    setState(await ipc.sessionState());
    render();
    if (signedIn()) checkStaff();
  } catch (e) {
    $('main').replaceChildren(h('p', { class: 'notice error', role: 'alert' }, `Warden could not start: ${/** @type {any} */ (e)?.message || String(e)}`));
  }
  // One timer for every live number: no animation loop, no busy work.
  let n = 0;
  setInterval(() => {
    n += 1;
    if (!app.state) return;
    profiles.paintSwitcher(Date.now());
    if (app.screen === 'profiles') profiles.tickManage(Date.now());
    if (app.screen === 'session') session.tick(app.state, app.recent);
    if (app.screen === 'sessions' && n % 3 === 0) sessions.refresh();
    if (app.screen === 'inspector') inspector.tick();
    if (app.state.phase.phase === 'offline') paintTopbar();
  }, 1000);
}

main();
