// The one HubError: a failure of a hub request, as the hub throws it (server/) and as the
// workstation's hub client receives it (main/sync/). Same class on both sides, so the status,
// code, message and details the hub sends are exactly what the client holds, and the wire shape
// (`{ error: { code, message, details? } }`, HubErrorBody in common/hub.ts) is written and read
// in one place.
import { HubErrorBody, isRetryableHubError, type HubErrorCode } from './hub.ts';
import { jsonOrUndefined } from './validation.ts';

/** Codes only a client makes: no answer, an answer that is not what the contract says, an error body it could not read. */
export type HubClientErrorCode = 'network' | 'timeout' | 'invalid-response' | `http-${number}`;

export class HubError extends Error {
  constructor(
    /** HTTP status, or null when there was no answer (network error, timeout). */
    readonly status: number | null,
    /** One of the contract's codes (a newer hub may send one this build does not know), or a client code. */
    readonly code: HubErrorCode | HubClientErrorCode | (string & {}),
    message: string,
    /** e.g. `newOwner` for draft-taken-over, `issues` for invalid-input, `retryAfterSeconds` for locked-out. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HubError';
  }

  /** Same request, later, may succeed: no answer, 5xx, 408/429, key in flight, original not synced yet. */
  get retryable(): boolean {
    return this.status === null || isRetryableHubError(this.status, this.code);
  }

  /** The error body the hub sends. */
  toBody(): HubErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }

  /**
   * The error an HTTP answer with a non-2xx status stands for: the hub's own code, message and
   * details when the body is the contract's error body, else `http-<status>` with the start of
   * the body so a proxy's error page is still readable.
   */
  static fromResponse(status: number, text: string): HubError {
    const parsed = HubErrorBody.safeParse(jsonOrUndefined(text));
    if (parsed.success) return new HubError(status, parsed.data.error.code, parsed.data.error.message, parsed.data.error.details);
    const snippet = text.trim().slice(0, 200);
    return new HubError(status, `http-${status}`, `HTTP ${status}${snippet ? `: ${snippet}` : ''}`);
  }
}
