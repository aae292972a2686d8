// The Electron entry (bundled to dist/electron/main.cjs): hands the real `electron` module to
// the shell (./shell.ts), which tests drive with a double. The only folder that imports electron.
import path from 'node:path';
import * as electron from 'electron';
import { startDesktopApp } from './shell.ts';
import { containEscapedErrors } from '../../common/processGuards.ts';

// Packaged, dist/ sits inside app.asar and the sample study beside it in the resources folder
// (electron-builder.yml extraResources).
const resourcesRoot = electron.app.isPackaged ? process.resourcesPath : path.resolve(__dirname, '..', '..');

// The main process keeps running past an error that escaped its handler (logged, not fatal).
containEscapedErrors('Failsafe', (ev, h) => process.on(ev, h), (l) => console.error(l), Date.now);

void startDesktopApp(electron, {
  argv: process.argv,
  env: process.env,
  rendererDir: path.resolve(__dirname, '..', 'renderer'),
  preload: path.join(__dirname, 'preload.cjs'),
  sampleDir: path.join(resourcesRoot, 'resources', 'samples', 'ct-head'),
  hubScript: path.join(__dirname, 'hub.mjs'),
});
