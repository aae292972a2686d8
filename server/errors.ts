// The one error shape of the hub: `{ error: { code, message, details? } }` with a 4xx status for
// anything the caller can fix and 5xx only for the hub's own failures.
import type { HubErrorCode } from '../common/hub.ts';

export class HubError extends Error {
  constructor(
    readonly status: number,
    readonly code: HubErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HubError';
  }

  toBody(): { error: { code: string; message: string; details?: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}
