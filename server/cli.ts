// `npm run hub`                      start the hub (PostgreSQL if DATABASE_URL, else PGlite in ./hub-data)
// `npm run hub -- --port 8787 --host 127.0.0.1 --data DIR --policy site-policy.json`
// `npm run hub -- user add --username u --name "Dr X" --role radiologist --registration "GMC 1" --password-stdin`
// `npm run hub -- user list` · `npm run hub -- migrate`
// `npm run hub -- embedded --data DIR [--port 0] [--parent-stdin]`: the single-user hub with demo
//   users (what `npm start` runs beside the workstation: PGlite in DIR, 127.0.0.1, a free port).
//   Prints one line `HUB_READY {"url":…,"demoUsers":[{username,password,role,name}…]}` for the
//   parent (the login screen lists the demo users); with --parent-stdin it exits when its stdin
//   closes, so a killed workstation never leaves an orphaned hub.
//
// This entry stays small so the embedded hub's database (PGlite: reading and compiling
// PostgreSQL's WebAssembly, mostly off the main thread) starts opening before the rest of the hub
// (fastify, zod, the app) loads; the commands are in ./cliMain.ts. Built with code splitting
// (scripts/build.mjs), so those modules are chunks loaded after the open has begun.
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { HubDb } from './db/adapter.ts';
import { containEscapedErrors } from '../common/processGuards.ts';

/** The `--data` folder of an `embedded` command (the first argument), else null. */
export function embeddedDataDir(argv: readonly string[]): string | null {
  if (argv[0] !== 'embedded') return null;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    // A value that looks like an option is refused by main's parseArgs: open nothing for it.
    if (a === '--data') return argv[i + 1]?.startsWith('-') === false ? argv[i + 1]! : null;
    if (a.startsWith('--data=')) return a.slice('--data='.length);
  }
  return null;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
if (isMain) {
  // A request or stream error that escaped its handler is logged; the hub keeps serving.
  containEscapedErrors('hub', (ev, h) => process.on(ev, h), (l) => console.error(l), Date.now);
  const argv = process.argv.slice(2);
  const dataDir = embeddedDataDir(argv);
  let early: Promise<HubDb> | undefined;
  if (dataDir) {
    const { openPglite } = await import('./db/pglite.ts');
    fs.mkdirSync(dataDir, { recursive: true });
    early = openPglite({ dataDir });
    early.catch(() => undefined); // main() awaits it and reports a failure
  }
  const { main, failure } = await import('./cliMain.ts');
  main(argv, early).then(
    (code) => { if (code >= 0) process.exit(code); },
    (err: unknown) => {
      const f = failure(err);
      console.error(f.message);
      if (f.stack) console.error(f.stack);
      process.exit(f.code);
    },
  );
}
