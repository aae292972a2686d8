// The one way a failed zod parse becomes words: "sections[2].text: Too long; role: Required".
// Every layer that rejects input (the contract's dispatch, the hub's routes and config, the
// workstation's hub client, stores, logs) says it the same way, bounded so a hostile payload with
// thousands of problems cannot make a megabyte of error text.
import type { z } from 'zod';

type Issue = Pick<z.core.$ZodIssue, 'path' | 'message'>;
type Issues = z.ZodError | readonly Issue[];

export interface IssueTextOptions {
  /** What to call the value itself when the problem is at its root (empty path). Default "(input)". */
  root?: string;
  /** At most this many issues are spelled out; the rest are counted. Default 8. */
  max?: number;
}

const issuesOf = (e: Issues): readonly Issue[] => ('issues' in e ? e.issues : e);

/** A zod path as people (and JS) read it: `sections[2].text`, `fields["odd key"]`; '' for the root. */
export function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'symbol') out += `[${String(key)}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

/** "path: message; path: message (and 3 more problems)". */
export function issueText(error: Issues, options: IssueTextOptions = {}): string {
  const root = options.root ?? '(input)';
  const max = Math.max(1, options.max ?? 8);
  const issues = issuesOf(error);
  const shown = issues.slice(0, max).map((i) => `${issuePath(i.path) || root}: ${i.message}`);
  const more = issues.length - shown.length;
  return shown.join('; ') + (more > 0 ? ` (and ${more} more problem${more === 1 ? '' : 's'})` : '');
}

/** The issues as data for an error body's details: `[{ path: ['sections', '2', 'text'], message }]`, at most `max` (default 20). */
export function issueDetails(error: Issues, max = 20): { path: string[]; message: string }[] {
  return issuesOf(error).slice(0, max).map((i) => ({ path: i.path.map(String), message: i.message }));
}

/** Text parsed as JSON, or undefined when it is not JSON: for untrusted text a zod schema will judge next. */
export function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
