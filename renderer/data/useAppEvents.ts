// Subscribes a component to the events main pushes (the latest handler is always used; the
// subscription is made once per client).
import { useEffect, useEffectEvent } from 'react';
import type { AppEvent } from '../../common/contract.ts';
import { useClient } from './client.ts';

export function useAppEvents(handler: (e: AppEvent) => void): void {
  const client = useClient();
  const onEvent = useEffectEvent(handler);
  useEffect(() => {
    if (!client.events) return;
    return client.events.subscribe((e) => onEvent(e));
  }, [client]);
}
