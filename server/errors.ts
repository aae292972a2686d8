// The hub's errors are the one HubError of common/hubError.ts (the class the workstation's client
// receives), seen from the hub's side: the hub always answers, so every error it throws has an HTTP
// status (4xx for anything the caller can fix, 5xx only for the hub's own failures) and one of the
// contract's codes; the compiler holds the hub to that. Same class at run time: `instanceof` and
// `toBody()` are common/hubError.ts's.
import type { HubErrorCode } from '../common/hub.ts';
import { HubError as SharedHubError } from '../common/hubError.ts';

export type HubError = SharedHubError & { readonly status: number; readonly code: HubErrorCode };

export const HubError = SharedHubError as unknown as {
  new (status: number, code: HubErrorCode, message: string, details?: Record<string, unknown>): HubError;
  readonly prototype: HubError;
};
