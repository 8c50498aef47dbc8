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
