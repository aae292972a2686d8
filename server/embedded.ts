// The embedded hub `npm start` runs beside the workstation when no department hub is configured:
// PGlite in the workstation's data folder, demo users (only here), 127.0.0.1 on a free port.
// Prints one line `HUB_READY {json}` for the parent; exits when the parent closes our stdin
// (so a killed workstation never leaves an orphaned hub) or on SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { startEmbeddedHub } from './hub.ts';

async function run(): Promise<void> {
  const { values } = parseArgs({ options: { 'data-dir': { type: 'string' }, port: { type: 'string' } } });
  const dataDir = values['data-dir'];
  if (!dataDir) throw new Error('--data-dir is required');
  const hub = await startEmbeddedHub({ dataDir, ...(values.port ? { port: Number(values.port) } : {}) });
  const demoUsers = hub.demoUsers.map((u) => ({ username: u.username, password: hub.demoPassword, role: u.role, name: u.name }));
  console.log(`HUB_READY ${JSON.stringify({ url: hub.url, demoUsers })}`);
  let closing = false;
  const stop = (): void => {
    if (closing) return;
    closing = true;
    hub.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

run().catch((err: unknown) => {
  console.error(`embedded hub: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
