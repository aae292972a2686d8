// The hub connection as the app last saw it, for the views that show sync state or hide actions
// by role. `null` until the first `hub:status` answer.
import { createContext, useContext } from 'react';
import type { HubStatus } from '../../common/contract.ts';

export const HubContext = createContext<HubStatus | null>(null);

export function useHubStatus(): HubStatus | null {
  return useContext(HubContext);
}
