// What the person logged in may do with the report on screen, and the words on the buttons, all
// read from the one life cycle (common/lifecycle.ts): a reporter signs a final report, a trainee
// submits a provisional one, a referrer or safety lead signs nothing; a trainer verifies a
// provisional report; addenda only on a final report. Pure: unit-tested.
import { SIGNATURE_MEANING_LABELS, STATE_LABELS, TRANSITIONS, checkTransition, isFinal, signingTransitionFor, type ReportState, type Role } from '../../common/lifecycle.ts';

export interface SignAction {
  transition: 'sign-final' | 'sign-provisional';
  /** The button when nothing blocks. */
  label: string;
  /** The button's first word when blocked, and while busy. */
  verb: string;
  busy: string;
  /** What the signature will mean, for the "Signing as …" line. */
  meaning: string;
}

/** The signing button a role gets on its own draft, or null (no button: the role may not sign). */
export function signActionFor(role: Role): SignAction | null {
  const t = signingTransitionFor(role);
  if (t === null) return null;
  const meaning = SIGNATURE_MEANING_LABELS[TRANSITIONS[t].meaning].toLowerCase();
  return t === 'sign-final'
    ? { transition: t, label: 'Sign report', verb: 'Sign', busy: 'Signing…', meaning }
    : { transition: t, label: 'Submit provisional report', verb: 'Submit', busy: 'Submitting…', meaning };
}

/** The sign button's text: the action, or why it is blocked. */
export function signButtonLabel(action: SignAction, blocking: number, busy: boolean): string {
  if (busy) return action.busy;
  if (blocking === 0) return action.label;
  return `${action.verb} (blocked: ${blocking} problem${blocking === 1 ? '' : 's'})`;
}

export const VERIFY_LABEL = 'Verify and issue final report';

/** What a role may do to a signed report in `state`. */
export function signedReportActions(state: ReportState, role: Role): { verify: boolean; addendum: boolean } {
  return { verify: checkTransition(state, 'verify', role).ok, addendum: checkTransition(state, 'addendum', role).ok };
}

/** The state as shown everywhere (banner, lists, the report's heading). Never FINAL unless final. */
export function stateLabel(state: ReportState): string {
  return STATE_LABELS[state];
}

/** The CSS class of a state label (`status-final` is used only for a report of record). */
export function stateClass(state: ReportState): string {
  return isFinal(state) ? 'status-final' : `status-${state}`;
}
