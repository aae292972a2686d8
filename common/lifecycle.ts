// The report life cycle (domain.md §4, §5): the one place that says which states a report can be
// in, which transitions exist, which role may make each, what every role may do at the hub, and
// how each state is written in FHIR (DiagnosticReport.status) and DICOM SR (Completion and
// Verification Flags). The workstation store, the hub (TypeScript and SQL), the renderer and the
// tests all read these lists; `test/common/lifecycle.single-source.test.ts` fails when another file
// restates a role list or a state list.
//
//   draft ──sign-provisional (trainee)──▶ provisional ──verify (trainer)──▶ final ──addendum──▶ appended
//     │                                                                        ▲                  │
//     ├──sign-final (radiologist, radiographer, locum, trainer)────────────────┘                  └─addendum─▶ appended
//     └──take-over (a colleague)──▶ taken-over ──adopt (taken back)──▶ draft
//                                   (the previous holder's read-only local copy)
import { z } from 'zod';

// ---- roles (domain.md §5) -------------------------------------------------------------------

export const ROLES = ['radiologist', 'radiographer', 'locum', 'trainee', 'trainer', 'referrer', 'safety-lead'] as const;
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

export const ROLE_LABELS: Readonly<Record<Role, string>> = {
  radiologist: 'Radiologist',
  radiographer: 'Reporting radiographer',
  locum: 'Locum radiologist',
  trainee: 'Trainee',
  trainer: 'Trainer',
  referrer: 'Referrer',
  'safety-lead': 'Imaging safety lead',
};

// ---- states ---------------------------------------------------------------------------------

export const REPORT_STATES = ['draft', 'provisional', 'final', 'appended', 'taken-over'] as const;
export const ReportState = z.enum(REPORT_STATES);
export type ReportState = z.infer<typeof ReportState>;

/** States whose content can never change again (a signature covers it). */
export const SIGNED_STATES: readonly ReportState[] = ['provisional', 'final', 'appended'];
/** States that are a report of record: final, with or without addenda. */
export const FINAL_STATES: readonly ReportState[] = ['final', 'appended'];
/** States in which a draft is still being written by its holder. */
export const EDITABLE_STATES: readonly ReportState[] = ['draft'];

export const isSigned = (s: ReportState): boolean => SIGNED_STATES.includes(s);
export const isFinal = (s: ReportState): boolean => FINAL_STATES.includes(s);
export const isEditable = (s: ReportState): boolean => EDITABLE_STATES.includes(s);

export const STATE_LABELS: Readonly<Record<ReportState, string>> = {
  draft: 'Draft (unsigned)',
  provisional: 'PROVISIONAL: awaiting verification',
  final: 'FINAL',
  appended: 'FINAL (with addenda)',
  'taken-over': 'Taken over by a colleague',
};

/**
 * FHIR R4 DiagnosticReport.status for each state. A taken-over copy is not a report of record
 * (the draft lives on with its new holder) and is never exported: null.
 */
export const FHIR_STATUS: Readonly<Record<ReportState, 'partial' | 'preliminary' | 'final' | 'appended' | null>> = {
  draft: 'partial',
  provisional: 'preliminary',
  final: 'final',
  appended: 'appended',
  'taken-over': null,
};

/** DICOM SR (PS3.3 C.17.2) Completion Flag (0040,A491) and Verification Flag (0040,A493). */
export const SR_FLAGS: Readonly<Record<ReportState, { completion: 'PARTIAL' | 'COMPLETE'; verification: 'UNVERIFIED' | 'VERIFIED' }>> = {
  draft: { completion: 'PARTIAL', verification: 'UNVERIFIED' },
  provisional: { completion: 'COMPLETE', verification: 'UNVERIFIED' },
  final: { completion: 'COMPLETE', verification: 'VERIFIED' },
  appended: { completion: 'COMPLETE', verification: 'VERIFIED' },
  'taken-over': { completion: 'PARTIAL', verification: 'UNVERIFIED' },
};

// ---- signatures (21 CFR 11.50: name, date/time, meaning) ------------------------------------

/**
 * The meaning of an electronic signature. `final-report` keeps the name that signatures made
 * before the life-cycle change carry inside their hashed payload.
 */
export const SIGNATURE_MEANINGS = ['provisional', 'final-report', 'verification', 'addendum'] as const;
export const SignatureMeaning = z.enum(SIGNATURE_MEANINGS);
export type SignatureMeaning = z.infer<typeof SignatureMeaning>;

export const SIGNATURE_MEANING_LABELS: Readonly<Record<SignatureMeaning, string>> = {
  provisional: 'Provisional report (awaiting verification)',
  'final-report': 'Final report',
  verification: 'Verified (final report)',
  addendum: 'Addendum',
};

// ---- actions: what a role may do (the hub enforces every route; the workstation hides the rest)

export const ACTIONS = [
  /** Write a draft (locally, and publish its snapshots to the hub). */
  'draft:write',
  /** Read a colleague's draft content and history. */
  'draft:read',
  /** See the department's unfinished list. */
  'unfinished:list',
  /** Take over a colleague's unfinished draft. */
  'draft:take-over',
  /** Sign a provisional report (a trainee's: awaits verification). */
  'report:sign-provisional',
  /** Sign a final report alone. */
  'report:sign-final',
  /** Verify a trainee's provisional report, making it final. */
  'report:verify',
  /** Sign an addendum to a final report. */
  'report:addendum',
  /** Read signed reports. */
  'report:read',
  /** Subscribe to pushed events (draft events only with unfinished:list). */
  'events:subscribe',
  /** See alerts: a referrer those routed to them, every other role all of them (issue 9). */
  'alert:read',
  /** Acknowledge an alert one is responsible for, with an action plan. */
  'alert:acknowledge',
  /** The imaging safety lead's dashboard and CSV export of alerts. */
  'safety:dashboard',
] as const;
export const Action = z.enum(ACTIONS);
export type Action = z.infer<typeof Action>;

const REPORTER: readonly Action[] = [
  'draft:write', 'draft:read', 'unfinished:list', 'draft:take-over', 'report:sign-final', 'report:addendum', 'report:read', 'events:subscribe',
  // The duty radiologist acknowledges alerts whose requester is unknown (issue 9).
  'alert:read', 'alert:acknowledge',
];

/** Who may do what (domain.md §5). */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Action[]>> = {
  radiologist: REPORTER,
  radiographer: REPORTER,
  locum: REPORTER,
  // Drafts and provisional reports; cannot issue a final report alone or take over a colleague's work.
  trainee: ['draft:write', 'draft:read', 'unfinished:list', 'report:sign-provisional', 'report:read', 'events:subscribe', 'alert:read'],
  // A reporter who also verifies trainees' provisional reports.
  trainer: [...REPORTER, 'report:verify'],
  // Sees signed reports (and their alerts); never drafts.
  referrer: ['report:read', 'events:subscribe', 'alert:read', 'alert:acknowledge'],
  // Dashboards: the unfinished list and signed reports, not draft content.
  'safety-lead': ['report:read', 'unfinished:list', 'events:subscribe', 'alert:read', 'alert:acknowledge', 'safety:dashboard'],
};

export function roleMay(role: Role, action: Action): boolean {
  return ROLE_PERMISSIONS[role].includes(action);
}

/** Roles that may do an action (for messages and the profile form). */
export function rolesThatMay(action: Action): Role[] {
  return ROLES.filter((r) => roleMay(r, action));
}

// ---- transitions ----------------------------------------------------------------------------

export const TRANSITIONS = {
  'sign-provisional': { from: ['draft'], to: 'provisional', action: 'report:sign-provisional', meaning: 'provisional' },
  'sign-final': { from: ['draft'], to: 'final', action: 'report:sign-final', meaning: 'final-report' },
  verify: { from: ['provisional'], to: 'final', action: 'report:verify', meaning: 'verification' },
  addendum: { from: ['final', 'appended'], to: 'appended', action: 'report:addendum', meaning: 'addendum' },
  'take-over': { from: ['draft'], to: 'taken-over', action: 'draft:take-over', meaning: null },
  // The holder of a taken-over copy takes the draft (back) over at the hub: the copy is live again.
  adopt: { from: ['taken-over'], to: 'draft', action: 'draft:take-over', meaning: null },
} as const satisfies Record<string, { from: readonly ReportState[]; to: ReportState; action: Action; meaning: SignatureMeaning | null }>;
export type Transition = keyof typeof TRANSITIONS;
export const TRANSITION_NAMES = Object.keys(TRANSITIONS) as Transition[];

/** Each transition as the end of "A report … cannot be ___", for messages. */
export const TRANSITION_VERBS: Readonly<Record<Transition, string>> = {
  'sign-provisional': 'signed provisionally',
  'sign-final': 'signed as final',
  verify: 'verified',
  addendum: 'given an addendum',
  'take-over': 'taken over',
  adopt: 'taken back',
};

export type TransitionCheck = { ok: true; to: ReportState } | { ok: false; reason: string };

/**
 * Does `transition` leave state `from`? For transitions whose actor was checked elsewhere (a
 * take-over decided at the hub); everything a local user does goes through checkTransition.
 */
export function checkTransitionFrom(from: ReportState, transition: Transition): TransitionCheck {
  const t = TRANSITIONS[transition];
  if (!(t.from as readonly ReportState[]).includes(from)) {
    return { ok: false, reason: `A report in state "${from}" (${STATE_LABELS[from]}) cannot be ${TRANSITION_VERBS[transition]}.` };
  }
  return { ok: true, to: t.to };
}

/** May `role` make `transition` on a report in state `from`? The reason is a sentence for the user. */
export function checkTransition(from: ReportState, transition: Transition, role: Role): TransitionCheck {
  const t = TRANSITIONS[transition];
  const leaves = checkTransitionFrom(from, transition);
  if (!leaves.ok) return leaves;
  if (!roleMay(role, t.action)) {
    const who = rolesThatMay(t.action).map((r) => ROLE_LABELS[r].toLowerCase()).join(' or ');
    return { ok: false, reason: `A ${ROLE_LABELS[role].toLowerCase()} may not do this: a report is ${TRANSITION_VERBS[transition]} by a ${who}.` };
  }
  return { ok: true, to: t.to };
}

/** The signing transition a role uses on its own draft: final for reporters, provisional for trainees, none otherwise. */
export function signingTransitionFor(role: Role): 'sign-final' | 'sign-provisional' | null {
  if (roleMay(role, 'report:sign-final')) return 'sign-final';
  if (roleMay(role, 'report:sign-provisional')) return 'sign-provisional';
  return null;
}

/** The state a signed report is in, from its signature meanings (in signing order). */
export function stateFromSignatures(meanings: readonly SignatureMeaning[]): ReportState {
  let state: ReportState = 'draft';
  for (const m of meanings) {
    const t = TRANSITION_NAMES.find((n) => TRANSITIONS[n].meaning === m && (TRANSITIONS[n].from as readonly ReportState[]).includes(state));
    if (!t) throw new Error(`signature "${m}" cannot follow a report that is ${state}`);
    state = TRANSITIONS[t].to;
  }
  return state;
}

/**
 * Why the department's unfinished list changed (the hub's `unfinished-changed` event): a draft
 * snapshot arrived, the draft was signed (any signing transition ends it: the wire keeps the word
 * "signed"), or it was taken over.
 */
export const UNFINISHED_CHANGE_REASONS = ['snapshot', 'signed', 'taken-over'] as const;

/**
 * What a role that never drafts (a referrer, a safety lead) is told on opening a study with no
 * signed report: nothing was created (main/services.ts reports:open; the renderer says the same).
 */
export function nothingToReadYet(role: Role): string {
  return `Nothing to read yet: this study has no signed report. As ${ROLE_LABELS[role].toLowerCase()} you read signed reports; drafts are written and signed by reporters.`;
}
