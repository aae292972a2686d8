// The API client for every component: given once at the root (`<ClientContext value={client}>`),
// read with `useClient()`, instead of being passed by hand through the tree.
import { createContext, useContext } from 'react';
import type { Client } from '../api.ts';

export const ClientContext = createContext<Client | null>(null);

export function useClient(): Client {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useClient() outside <ClientContext>: the app root provides the client.');
  return client;
}
