// Renderer bundle. The CSP (common/security.ts) allows no inline script or style, so: no
// modulepreload polyfill (it is an inline script), CSS as files, assets as files (no data: JS).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: 'renderer',
  base: './',
  plugins: [react()],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    sourcemap: true,
    target: 'chrome120',
    chunkSizeWarningLimit: 4096,
  },
  worker: { format: 'es' },
  server: { strictPort: false },
});
