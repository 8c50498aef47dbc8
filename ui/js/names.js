// @ts-check
/**
 * Usernames for the user ids that audit lines carry (subject, actor): the
 * staff views show "bob (2)" rather than a bare 2. Each id is looked up once
 * per window; an id that cannot be looked up (a deleted account, no staff
 * right) keeps its number.
 */
import { h } from './dom.js';
import * as ipc from './ipc.js';

/** @type {Map<number, Promise<string | null>>} */
const cache = new Map();

/** @param {number} id @returns {Promise<string | null>} */
export function usernameOf(id) {
  let found = cache.get(id);
  if (!found) {
    found = ipc.staffUser(id).then((v) => v.detail.username, () => null);
    cache.set(id, found);
  }
  return found;
}

/** "bob (2)", or the bare id when the name is unknown. @param {number} id @param {string | null} name */
export const userLabel = (id, name) => (name ? `${name} (${id})` : String(id));

/** A cell naming user `id`, filled in by {@link fillUserNames}. @param {number | null | undefined} id */
export const userCell = (id) => (id == null ? '—' : h('span', { 'data-user': String(id) }, String(id)));

/** Replaces the ids of every `[data-user]` element under `root` with "name (id)". @param {ParentNode} root */
export async function fillUserNames(root) {
  const cells = /** @type {HTMLElement[]} */ ([...root.querySelectorAll('[data-user]')]);
  await Promise.all(cells.map(async (cell) => {
    const id = Number(cell.dataset.user);
    cell.textContent = userLabel(id, await usernameOf(id));
  }));
}
