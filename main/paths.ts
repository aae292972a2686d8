// Where the workstation keeps its data, the same in Electron and browser mode.
import os from 'node:os';
import path from 'node:path';

/** The per-user data folder: $FAILSAFE_DATA_DIR, else the platform's usual place. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env['FAILSAFE_DATA_DIR']) return path.resolve(env['FAILSAFE_DATA_DIR']);
  const home = os.homedir();
  if (platform === 'win32') return path.join(env['APPDATA'] ?? path.join(home, 'AppData', 'Roaming'), 'Failsafe');
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Failsafe');
  return path.join(env['XDG_DATA_HOME'] ?? path.join(home, '.local', 'share'), 'failsafe');
}
