// Is the Electron binary installed? Without internet its download never happened; say why.
import fs from 'node:fs';
import path from 'node:path';

/** The Electron binary, or why there is none. */
export function findElectron(root: string): { binary: string } | { missing: string } {
  const pkgDir = path.join(root, 'node_modules', 'electron');
  if (!fs.existsSync(pkgDir)) return { missing: 'the electron package is not installed (run npm ci)' };
  const override = process.env['ELECTRON_OVERRIDE_DIST_PATH'];
  if (override) {
    const exe = process.platform === 'win32' ? 'electron.exe' : process.platform === 'darwin' ? 'Electron.app/Contents/MacOS/Electron' : 'electron';
    const bin = path.join(override, exe);
    return fs.existsSync(bin) ? { binary: bin } : { missing: `ELECTRON_OVERRIDE_DIST_PATH has no ${exe}` };
  }
  const pathTxt = path.join(pkgDir, 'path.txt');
  if (!fs.existsSync(pathTxt)) {
    return { missing: 'its binary was never downloaded (no internet at install; `npx install-electron` fetches it)' };
  }
  const bin = path.join(pkgDir, 'dist', fs.readFileSync(pathTxt, 'utf8').trim());
  return fs.existsSync(bin) ? { binary: bin } : { missing: `the binary ${bin} is missing` };
}
