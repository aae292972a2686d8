// What a permanent refusal by the hub means for the reporter: the hub's reason in words, and
// whether sending the very same signed bytes again could ever succeed. A signed payload is
// immutable (its hash is signed), so a refusal about its content can only be answered by a
// corrected report (a new signature that replaces the refused one), never by resending it.
// Only refusals that a change on the hub's side can lift (an upgrade, an account fixed, the
// signer's own session) are offered a resend. One table, used by the outbox sender and the UI.
import type { HubErrorCode } from './hub.ts';

export interface RefusalMeaning {
  /** The hub's refusal in words for the reporter (completes "Not delivered: …"). */
  words: string;
  /** Resending the same bytes can succeed after a change on the hub's side. */
  resendCanHelp: boolean;
  /** false: a corrected report of the same study would be refused too (the remedy is elsewhere, in the words). Default true. */
  correctionCanHelp?: false;
}

type IngestRefusalCode = Exclude<
  HubErrorCode,
  'unauthenticated' | 'session-expired' | 'locked-out' | 'idempotency-key-in-flight' | 'original-not-synced' | 'already-signed' | 'draft-taken-over' | 'already-owner' | 'first-user-exists' | 'internal'
>;

/** Every permanent refusal the hub's ingest route can give (common/hub.ts HUB_ERROR_CODES, minus the retried ones). */
export const REFUSAL_MEANINGS: Readonly<Record<IngestRefusalCode | 'study-already-reported', RefusalMeaning>> = {
  'signoff-problems': { words: "the hub's sign-off check found blocking problems in the signed content", resendCanHelp: false },
  'unknown-template': { words: "the hub does not know this report's template (the hub may need an upgrade)", resendCanHelp: true },
  'hash-mismatch': { words: 'the signed content does not match its signature hash', resendCanHelp: false },
  'signer-mismatch': { words: "it was sent under a session other than its signer's (it can go when the signer is logged in)", resendCanHelp: true },
  'signed-at-implausible': { words: "the signature time is implausible to the hub (ahead of its clock, or before the signer's account existed: check the workstation's clock)", resendCanHelp: false },
  'report-conflict': { words: 'the hub already holds a different signed report under this report id', resendCanHelp: false },
  forbidden: { words: "the signer's role may not sign this on the hub", resendCanHelp: false },
  'invalid-input': { words: 'the hub found the signed content invalid', resendCanHelp: false },
  'invalid-transition': { words: "the report's state on the hub does not allow this", resendCanHelp: false },
  'original-hash-mismatch': { words: 'the addendum does not match the report the hub holds', resendCanHelp: false },
  'addendum-conflict': { words: 'the hub already holds a different addendum under this id', resendCanHelp: false },
  'study-already-reported': { words: 'the hub already holds a final report for this study (add an addendum to it instead)', resendCanHelp: false, correctionCanHelp: false },
  'idempotency-key-reused': { words: 'the hub received different content under the same delivery key', resendCanHelp: false },
  'idempotency-key-missing': { words: 'the delivery carried no delivery key (a workstation defect)', resendCanHelp: false },
  'idempotency-key-invalid': { words: 'the delivery key was malformed (a workstation defect)', resendCanHelp: false },
  'invalid-json': { words: 'the hub could not read the delivery (a workstation defect)', resendCanHelp: false },
  'unsupported-media-type': { words: 'the hub could not read the delivery (a workstation defect)', resendCanHelp: false },
  'payload-too-large': { words: 'the report is larger than the hub accepts (the site can raise the limit)', resendCanHelp: true },
  'not-found': { words: 'the hub has no route for signed reports (the hub may need an upgrade)', resendCanHelp: true },
  'method-not-allowed': { words: 'the hub has no route for signed reports (the hub may need an upgrade)', resendCanHelp: true },
};

/**
 * The meaning of a permanent refusal. A code this build does not know (a newer hub) or none (an
 * answer that was not the hub's, e.g. a proxy's page) may be lifted on that side: resend offered.
 */
export function refusalMeaning(code: string | null, hubMessage: string): RefusalMeaning {
  const known = code !== null && Object.hasOwn(REFUSAL_MEANINGS, code) ? REFUSAL_MEANINGS[code as keyof typeof REFUSAL_MEANINGS] : null;
  if (known) return known;
  return { words: hubMessage || 'the hub refused it', resendCanHelp: true };
}

/** What the outbox records for a permanent refusal: "Not delivered: <words>." then the hub's own answer. */
export function refusalReason(kind: string, status: number, code: string | null, hubMessage: string): string {
  const meaning = refusalMeaning(code, hubMessage);
  return (
    `Not delivered: ${meaning.words}. The hub refused this ${kind} (${status}${code ? ` ${code}` : ''}): ${hubMessage}` +
    (meaning.resendCanHelp ? '' : meaning.correctionCanHelp === false ? ' Resending it would be refused again.' : ' Resending it would be refused again: issue a corrected report.')
  );
}

/** The status and code of a refusal recorded by `refusalReason`, or null (not a permanent refusal). */
export function parseRefusal(reason: string | null): { status: number; code: string | null } | null {
  const m = reason === null ? null : /The hub refused this [a-z]+ \((\d{3})(?: ([A-Za-z0-9_-]+))?\): /.exec(reason);
  return m ? { status: Number(m[1]), code: m[2] ?? null } : null;
}

const TAMPERED = 'Not sent: this signed record no longer matches what was signed';

/**
 * The reason kept for an outbox row the workstation refused to send because it no longer matches
 * its signature record or the report as stored (changed after signing). Neither a resend nor a
 * corrected report (which would carry the changed text) is offered for it.
 */
export function tamperedReason(why: string): string {
  return `${TAMPERED} (changed after signing: ${why}). Do not rely on it; tell your imaging safety lead.`;
}

export const isTamperedReason = (reason: string | null): boolean => reason?.startsWith(TAMPERED) ?? false;
