// The hub's own web page (issue 9 lines 3 and 7): the referrer's "My alerts", an alert's detail
// with its signed report and the Acknowledge form, the safety lead's dashboard. One bundle, built
// by scripts/build.mjs into dist/hub-web/ (vite.hub.config.ts), served same-origin by the hub so
// the page needs nothing from anywhere else: its CSP allows only this origin. Every page path
// answers the same index.html (client-side routing), so the link in a notification e-mail,
// /alerts/<report id>, opens the page at that alert after login.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * Strict: scripts, styles, fonts and fetches from this origin only, images from here or data:
 * URLs (the favicon), no plugins, no base tag, forms post only here, never framed.
 */
export const HUB_WEB_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The page's paths: each answers index.html; the page itself reads which one it is. */
export const HUB_WEB_PAGES = ['/', '/alerts/:reportId', '/dashboard'] as const;

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/** An asset's name as Vite writes it ("index-3fA9_b.js"): no path, no leading dot. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,200}$/;

/**
 * Where the built page is: beside the hub's bundle (dist/node/hub.mjs and its chunks reach
 * dist/hub-web/ going up), or dist/hub-web/ of the checkout when the hub runs from source (tests).
 */
export function defaultWebDirs(): string[] {
  const dirs: string[] = [];
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    dirs.push(path.join(d, 'hub-web'), path.join(d, 'dist', 'hub-web'));
    d = path.dirname(d);
  }
  return dirs;
}

function secure(reply: FastifyReply, cache: string): FastifyReply {
  return reply
    .header('content-security-policy', HUB_WEB_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cache-control', cache);
}

/**
 * Serves the page at HUB_WEB_PAGES and its files at /assets/*. `dir`: the built bundle (default:
 * the first of defaultWebDirs() that holds an index.html, looked up at each request so a build
 * made after the hub started is served). Without a build, the page paths answer 503 in words.
 */
export function registerWebPages(app: FastifyInstance, opts: { dir?: string } = {}): void {
  const candidates = opts.dir ? [opts.dir] : defaultWebDirs();
  const builtDir = (): string | null => candidates.find((d) => fs.existsSync(path.join(d, 'index.html'))) ?? null;

  for (const page of HUB_WEB_PAGES) {
    app.get(page, async (_req, reply) => {
      const dir = builtDir();
      if (!dir) {
        return secure(reply, 'no-store').code(503).type('text/plain; charset=utf-8')
          .send("The hub's web page has not been built: run `npm run build` (it writes dist/hub-web/), then reload this page.\n");
      }
      // no-cache: the page names its hashed assets, so a new build is picked up at the next load.
      return secure(reply, 'no-cache').type('text/html; charset=utf-8').send(await fs.promises.readFile(path.join(dir, 'index.html')));
    });
  }

  app.get('/assets/:name', async (req, reply) => {
    const { name } = req.params as { name: string };
    const dir = builtDir();
    const type = TYPES[path.extname(name)];
    const file = dir && ASSET_NAME.test(name) && type ? path.join(dir, 'assets', name) : null;
    const stat = file ? await fs.promises.stat(file).catch(() => null) : null;
    if (!file || !stat?.isFile()) {
      return secure(reply, 'no-store').code(404).type('text/plain; charset=utf-8').send(`No such file of the hub's web page: ${name.slice(0, 100)}\n`);
    }
    // Vite names each asset by its content's hash: a name never changes meaning, so it is cached for good.
    return secure(reply, 'public, max-age=31536000, immutable').type(type!).header('content-length', stat.size).send(fs.createReadStream(file));
  });
}
