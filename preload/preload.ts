// Generated from the contract: one function per channel of common/channels.ts, each forwarding to
// ipcRenderer.invoke. Nothing else crosses: ipcRenderer itself is never exposed.
import { contextBridge, ipcRenderer } from 'electron';
import { CHANNELS, IPC_PREFIX } from '../common/channels.ts';

const subscribe = (listener: (event: unknown) => void): (() => void) => {
  const handler = (_e: unknown, event: unknown): void => listener(event);
  ipcRenderer.on(`${IPC_PREFIX}event`, handler);
  return () => ipcRenderer.off(`${IPC_PREFIX}event`, handler);
};

const api = Object.fromEntries(
  CHANNELS.map((channel) => [channel, (input: unknown) => ipcRenderer.invoke(`${IPC_PREFIX}${channel}`, input ?? {})]),
);

contextBridge.exposeInMainWorld('failsafe', { ...api, subscribe });
