// The renderer's Content-Security-Policy, the same in Electron (app:// protocol) and browser mode.
// 'wasm-unsafe-eval' and blob: workers are exactly what the image codecs need; nothing else.
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

/** Header the browser-mode bridge requires on every API and file request. */
export const TOKEN_HEADER = 'x-failsafe-token';
