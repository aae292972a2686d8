// What went wrong, in one line, from anything that was thrown. Pure: used by main (the hub client,
// the workstation's hub connection) and safe in every layer.

/**
 * The message of a thrown value. An Error's `cause` is appended when it is an Error too: fetch
 * rejects with a bare "fetch failed" and puts the reason (ECONNREFUSED, a certificate problem) in
 * its cause, and that reason is what a user or an operator needs to read.
 */
export function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}
