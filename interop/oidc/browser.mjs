// A browser automaton: does what a person does at node-oidc-provider's pages.
//
//   node browser.mjs [--login NAME] URL
//
// Opens URL (an authorization URL, a device verification URL, an end-session
// URL), fills in and submits the forms it meets (login: NAME and a password;
// consent: continue; device: the code already in the URL, confirm; logout:
// yes), follows every redirect with the provider's cookies, and stops after
// following the first redirect that leaves the provider (the app's loopback
// listener), or on a page with no form (the provider's "done" page). Exit 0
// when it got there, 1 with the page's text when it could not.
//
// Set as the app's browser: BROWSER="interop/oidc/node.sh interop/oidc/browser.mjs".
// The login name may also come from WARDEN_TEST_BROWSER_LOGIN.
//
// A person's browser keeps the provider's cookies between visits: with
// WARDEN_TEST_BROWSER_JAR=FILE the automaton does too (read at start, written
// at the end), so a second sign-in is answered from the provider's session
// without the login form, until a logout ends it. WARDEN_TEST_BROWSER_TRACE=FILE
// appends one line per form it submits (`login`, `consent`, `logout`, `other`),
// which tells a test what the person was shown.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
let login = process.env.WARDEN_TEST_BROWSER_LOGIN || 'alice';
let start;
while (args.length) {
  const a = args.shift();
  if (a === '--login') login = args.shift();
  else start = a;
}
if (!start) {
  console.error('usage: browser.mjs [--login NAME] URL');
  process.exit(2);
}

const origin = new URL(start).origin;
const jar = process.env.WARDEN_TEST_BROWSER_JAR;
const trace = process.env.WARDEN_TEST_BROWSER_TRACE;
const cookies = new Map();
if (jar) {
  try { for (const [k, v] of JSON.parse(readFileSync(jar, 'utf8'))) cookies.set(k, v); } catch { /* a first visit */ }
}
const log = (m) => console.error(`[browser] ${m}`);
function finish(code) {
  if (jar) writeFileSync(jar, JSON.stringify([...cookies]));
  process.exit(code);
}

function remember(res) {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    const name = pair.slice(0, i).trim();
    const value = pair.slice(i + 1);
    if (/expires=Thu, 01 Jan 1970/i.test(c) || value === '') cookies.delete(name);
    else cookies.set(name, value);
  }
}

function cookieHeader() {
  return [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
}

const unescape = (s) => s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'")
  .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#x2F;/g, '/').replace(/&#x3D;/g, '=');
const attr = (tag, name) => {
  const m = tag.match(new RegExp(`\\s${name}\\s*=\\s*"([^"]*)"`, 'i'));
  return m ? unescape(m[1]) : undefined;
};

function readForm(html) {
  const m = html.match(/<form\b[^>]*>([\s\S]*?)<\/form>/i);
  if (!m) return undefined;
  const open = m[0].match(/<form\b[^>]*>/i)[0];
  const fields = new URLSearchParams();
  for (const input of m[1].matchAll(/<input\b[^>]*>/gi)) {
    const name = attr(input[0], 'name');
    if (!name) continue;
    let value = attr(input[0], 'value') ?? '';
    if (name === 'login' && !value) value = login;
    if (name === 'password') value = 'any password will do';
    fields.append(name, value);
  }
  let kind = 'other';
  if (fields.has('password')) kind = 'login';
  else if (attr(open, 'id') === 'op.logoutForm') kind = 'logout';
  else if (/\/confirm\b|consent/i.test(m[0]) || fields.has('prompt')) kind = 'consent';
  if (kind === 'logout') fields.append('logout', 'yes');
  if (trace) appendFileSync(trace, `${kind}\n`);
  return { action: attr(open, 'action'), method: (attr(open, 'method') || 'get').toUpperCase(), fields };
}

let url = start;
let method = 'GET';
let body;
for (let step = 0; step < 40; step += 1) {
  const res = await fetch(url, {
    method,
    body,
    redirect: 'manual',
    headers: {
      cookie: cookieHeader(),
      ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
  });
  remember(res);
  log(`${method} ${new URL(url).pathname} -> ${res.status}`);
  if (res.status >= 300 && res.status < 400) {
    const next = new URL(res.headers.get('location'), url);
    if (next.origin !== origin) {
      // The app's loopback listener: deliver the answer and stop.
      const answer = await fetch(next, { redirect: 'manual' });
      log(`GET ${next.origin}${next.pathname} (the app) -> ${answer.status}`);
      finish(answer.ok ? 0 : 1);
    }
    url = next.href;
    method = 'GET';
    body = undefined;
    continue;
  }
  const html = await res.text();
  const form = readForm(html);
  if (!form) {
    const text = html.replace(/<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
    if (res.ok) {
      log(`done: ${text.slice(0, 200)}`);
      finish(0);
    }
    console.error(`[browser] stuck at HTTP ${res.status}: ${text.slice(0, 500)}`);
    finish(1);
  }
  url = new URL(form.action || url, url).href;
  method = form.method;
  body = method === 'POST' ? form.fields.toString() : undefined;
  if (method === 'GET') {
    const u = new URL(url);
    for (const [k, v] of form.fields) u.searchParams.append(k, v);
    url = u.href;
  }
}
console.error('[browser] too many steps');
finish(1);
