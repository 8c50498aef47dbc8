import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

/** Every invoke, as the app receives it: Tauri sends the arguments as JSON. */
const sent = [];
globalThis.window = /** @type {any} */ ({
  __TAURI__: { core: { invoke: async (/** @type {string} */ cmd, /** @type {unknown} */ args) => { sent.push({ cmd, args: JSON.parse(JSON.stringify(args)) }); return null; } } },
});
const ipc = await import('./ipc.js');
const wire = JSON.parse(readFileSync(new URL('./ipc.wire.json', import.meta.url), 'utf8'));

/** @type {Record<string, (args: any) => Promise<unknown>>} */
const calls = {
  staff_action: (a) => ipc.staffAction(a),
  inspect_token: (a) => ipc.inspectToken(a),
  staff_users: (a) => ipc.staffUsers(a[0], a[1]),
  export_audit: (a) => ipc.exportAudit(a[0], a[1]),
};

for (const [cmd, call] of Object.entries(calls)) {
  test(`${cmd} sends what the app's command reads`, async () => {
    assert.ok(wire[cmd].length > 0);
    for (const c of wire[cmd]) {
      sent.length = 0;
      await call(c.args);
      assert.deepEqual(sent, [{ cmd, args: c.sent }], JSON.stringify(c.args));
    }
  });
}
