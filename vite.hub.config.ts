// The hub's own web page (server/web/page/): its own bundle in dist/hub-web/, served by the hub at
// / and /alerts/<id> (server/web/serve.ts), built as the renderer is (vite.config.ts: no inline
// script or style, assets as files, for a CSP without 'unsafe-inline'), except: an absolute base,
// so a deep link /alerts/<id> still loads /assets/…, and no workers.
import { defineConfig } from 'vite';
import renderer from './vite.config.ts';

export default defineConfig({
  ...renderer,
  root: 'server/web/page',
  base: '/',
  build: { ...renderer.build, outDir: '../../../dist/hub-web' },
  worker: undefined,
  server: undefined,
});
