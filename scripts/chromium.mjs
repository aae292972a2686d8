// Finds a Chromium/Chrome for the end-to-end tests: $CHROMIUM_PATH, Debian's /usr/bin/chromium,
// other usual places; on Debian as root, installs Debian's chromium when none is found.
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';

const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
  'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe',
];

export function findChromium() {
  if (process.env.CHROMIUM_PATH) {
    if (!fs.existsSync(process.env.CHROMIUM_PATH)) throw new Error(`CHROMIUM_PATH=${process.env.CHROMIUM_PATH} does not exist`);
    return process.env.CHROMIUM_PATH;
  }
  return CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

/** Returns a browser path, installing Debian's chromium if needed and possible; null means "let Playwright find its own". */
export function ensureChromium() {
  const found = findChromium();
  if (found) return found;
  const isDebianRoot = process.platform === 'linux' && fs.existsSync('/usr/bin/apt-get') && process.getuid?.() === 0;
  if (isDebianRoot) {
    console.log('e2e: no Chromium found; installing Debian\'s chromium (apt-get install -y chromium) …');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
      r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env });
    }
    if (r.status === 0 && fs.existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
    throw new Error('e2e: could not install chromium with apt-get');
  }
  return null;
}
