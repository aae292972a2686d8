// The browser-mode launch link (main/bridge/BrowserBridge.ts): the page exchanges the printed
// one-time code for the bridge's token (renderer/api.ts takeAccess); tests and benchmarks that
// drive the bridge directly do the same.
import { TOKEN_HEADER } from '../../common/security.ts';

/** The origin and one-time code of a printed `Open: http://127.0.0.1:<port>/#launch=<code>` link. */
export function parseLaunchLink(url: string): { origin: string; code: string } {
  const u = new URL(url);
  return { origin: u.origin, code: u.hash.replace('#launch=', '') };
}

/** Exchanges a one-time launch code for the bridge's token, as the page does. */
export async function spendLaunchCode(origin: string, code: string): Promise<string> {
  const res = await fetch(`${origin}/launch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
  const body = (await res.json()) as { ok: boolean; value?: { token: string } };
  if (!body.ok || !body.value) throw new Error(`launch code refused (${res.status})`);
  return body.value.token;
}

/** A further one-time launch code (another window), asked with the token. */
export async function newLaunchCode(origin: string, token: string): Promise<string> {
  const res = await fetch(`${origin}/launch/new`, { method: 'POST', headers: { 'content-type': 'application/json', [TOKEN_HEADER]: token }, body: '{}' });
  return ((await res.json()) as { value: { code: string } }).value.code;
}
