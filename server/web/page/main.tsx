// Entry point of the hub's page (built by vite.hub.config.ts into dist/hub-web/, served by
// server/web/serve.ts). Its styles are linked from index.html.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';

const root = document.getElementById('root');
if (!root) throw new Error('index.html lacks #root');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
