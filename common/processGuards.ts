// Process-level guards (issue 8 line 7), for the workstation's processes and the hub's: an error
// that escapes every handler (a stream error nobody listened for, a rejected promise nobody
// awaited) is written to the log and the process goes on, instead of ending the workstation or
// the hub under a radiologist who is typing. Every request, file and stream has its own handling;
// this is the net under it. The log line carries the error's name and message only (never a
// request body: no patient identifiers), and a burst of one error is logged once a minute. Pure:
// the caller passes `process.on`, its log and its clock.
export type GuardEvent = 'uncaughtException' | 'unhandledRejection';

export function containEscapedErrors(
  who: string,
  on: (event: GuardEvent, handler: (err: unknown) => void) => void,
  log: (line: string) => void,
  now: () => number,
): void {
  const seen = new Map<string, number>();
  const report = (kind: string, err: unknown): void => {
    const name = err instanceof Error ? err.name : 'Error';
    const message = err instanceof Error ? err.message : String(err);
    const key = `${kind}:${name}:${message}`;
    const t = now();
    if ((seen.get(key) ?? -Infinity) > t - 60_000) return;
    if (seen.size > 100) seen.clear();
    seen.set(key, t);
    log(`${who}: ${kind} caught and contained (${name}: ${message.slice(0, 300)}); still running.`);
  };
  on('uncaughtException', (err) => report('an unexpected error', err));
  on('unhandledRejection', (err) => report('an unhandled rejection', err));
}
