// @ts-check
/** A tiny element builder: no innerHTML, so server text is never markup. */

/**
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v == null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/**
 * Asks first; resolves true when confirmed.
 * @param {string} title
 * @param {string} text
 * @param {string} ok label of the confirming button
 */
export function confirmDialog(title, text, ok) {
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('confirm'));
  /** @type {HTMLElement} */ (document.getElementById('confirm-title')).textContent = title;
  /** @type {HTMLElement} */ (document.getElementById('confirm-text')).textContent = text;
  /** @type {HTMLElement} */ (document.getElementById('confirm-ok')).textContent = ok;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

/** @param {string} text announced to screen readers */
export function announce(text) {
  const el = document.getElementById('announce');
  if (el) el.textContent = text;
}

/**
 * Asks for a reason (and, with `password`, a temporary password).
 * Resolves null when cancelled.
 * @param {string} title
 * @param {string} text
 * @param {string} ok
 * @param {{password?: boolean}} [opts]
 * @returns {Promise<{reason: string, password: string} | null>}
 */
export function askDialog(title, text, ok, opts = {}) {
  const $ = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (document.getElementById(id));
  const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('ask'));
  $('ask-title').textContent = title;
  $('ask-text').textContent = text;
  $('ask-ok').textContent = ok;
  $('ask-reason').value = '';
  $('ask-password').value = '';
  $('ask-password').hidden = !opts.password;
  $('ask-password-label').hidden = !opts.password;
  $('ask-password').required = !!opts.password;
  dialog.returnValue = '';
  dialog.showModal();
  (opts.password ? $('ask-password') : $('ask-reason')).focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'
      ? { reason: $('ask-reason').value.trim(), password: $('ask-password').value }
      : null), { once: true });
  });
}

/**
 * A table from rows.
 * @param {string} id
 * @param {string[]} headers
 * @param {(Node|string)[][]} rows
 * @param {(i: number) => Record<string, any>} [rowAttrs]
 */
export function table(id, headers, rows, rowAttrs) {
  return h('table', { id },
    h('thead', null, h('tr', null, ...headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, ...rows.map((cells, i) => h('tr', rowAttrs ? rowAttrs(i) : null, ...cells.map((c) => h('td', null, c))))),
  );
}
