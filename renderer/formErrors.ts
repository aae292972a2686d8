// The renderer's one way to tell a person what a form lacks or got wrong, before anything is sent:
// "Please give your name and your role." Parse errors (zod) are worded by common/validation.ts.
// Pure: unit-tested.
import type { z } from 'zod';
import { issueText } from '../common/validation.ts';

/** "a", "a and b", "a, b and c". */
export function listInWords(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** For each field, whether it is given and what it is called: the sentence for the missing ones, or null. */
export function missingMessage(fields: readonly (readonly [given: boolean, what: string])[]): string | null {
  const missing = fields.filter(([given]) => !given).map(([, what]) => what);
  return missing.length > 0 ? `Please give ${listInWords(missing)}.` : null;
}

/** What is missing, else what the schema refused (field by field). */
export function formError(fields: readonly (readonly [given: boolean, what: string])[], parsed: z.ZodSafeParseResult<unknown>): string | null {
  return missingMessage(fields) ?? (parsed.success ? null : issueText(parsed.error));
}
