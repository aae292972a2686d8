// Entry point: builds the API client (Electron preload or the browser-mode HTTP bridge), gives it to
// every component through ClientContext, and mounts the app.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createClient } from './api.ts';
import { App } from './App.tsx';
import { ClientContext } from './data/client.ts';

const root = document.getElementById('root');
if (!root) throw new Error('index.html lacks #root');
const made = await createClient();
createRoot(root).render(
  <StrictMode>
    {made.ok ? (
      <ClientContext value={made.client}>
        <App />
      </ClientContext>
    ) : (
      <main className="boot-message" role="alert">
        <h1>Failsafe</h1>
        <p>{made.message}</p>
      </main>
    )}
  </StrictMode>,
);
