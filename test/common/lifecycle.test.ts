// The report life cycle (common/lifecycle.ts) against an independent statement of domain.md §4-§5
// written out here: every transition from every state by every role, the state a list of
// signatures makes, and each state's FHIR DiagnosticReport.status and DICOM SR flags.
import { describe, expect, it } from 'vitest';
import {
  checkTransition,
  checkTransitionFrom,
  FHIR_STATUS,
  FINAL_STATES,
  isEditable,
  isFinal,
  isSigned,
  REPORT_STATES,
  ROLE_LABELS,
  roleMay,
  ROLES,
  SIGNATURE_MEANINGS,
  SIGNED_STATES,
  signingTransitionFor,
  SR_FLAGS,
  STATE_LABELS,
  stateFromSignatures,
  TRANSITION_NAMES,
  TRANSITION_VERBS,
  TRANSITIONS,
  type ReportState,
  type Role,
  type SignatureMeaning,
  type Transition,
} from '../../common/lifecycle.ts';

// ---- the oracle: domain.md §4 and §5, written independently of the module under test ----------

const REPORTERS: Role[] = ['radiologist', 'radiographer', 'locum', 'trainer'];

const EXPECTED: Record<Transition, { from: ReportState[]; to: ReportState; roles: Role[]; meaning: SignatureMeaning | null }> = {
  // A trainee drafts and submits provisional reports; cannot issue a final report alone.
  'sign-provisional': { from: ['draft'], to: 'provisional', roles: ['trainee'], meaning: 'provisional' },
  'sign-final': { from: ['draft'], to: 'final', roles: REPORTERS, meaning: 'final-report' },
  // Trainers verify trainees' reports (not radiologists, not locums).
  verify: { from: ['provisional'], to: 'final', roles: ['trainer'], meaning: 'verification' },
  // A signed report never changes; corrections are addenda, to final reports only.
  addendum: { from: ['final', 'appended'], to: 'appended', roles: REPORTERS, meaning: 'addendum' },
  // Take over an unfinished report: reporters (a trainee may not take over a colleague's work).
  'take-over': { from: ['draft'], to: 'taken-over', roles: REPORTERS, meaning: null },
  adopt: { from: ['taken-over'], to: 'draft', roles: REPORTERS, meaning: null },
};

describe('the lists', () => {
  it('states, roles and meanings are exactly those of domain.md', () => {
    expect([...REPORT_STATES].sort()).toEqual(['appended', 'draft', 'final', 'provisional', 'taken-over']);
    expect([...ROLES].sort()).toEqual(['locum', 'radiographer', 'radiologist', 'referrer', 'safety-lead', 'trainee', 'trainer']);
    expect([...SIGNATURE_MEANINGS].sort()).toEqual(['addendum', 'final-report', 'provisional', 'verification']);
    expect(TRANSITION_NAMES.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('signed, final and editable states', () => {
    expect([...SIGNED_STATES].sort()).toEqual(['appended', 'final', 'provisional']);
    expect([...FINAL_STATES].sort()).toEqual(['appended', 'final']);
    for (const s of REPORT_STATES) {
      expect(isSigned(s)).toBe(['provisional', 'final', 'appended'].includes(s));
      expect(isFinal(s)).toBe(['final', 'appended'].includes(s));
      expect(isEditable(s)).toBe(s === 'draft');
      expect(STATE_LABELS[s].length).toBeGreaterThan(0);
    }
    // A provisional report is never labelled as if it were final.
    expect(STATE_LABELS.provisional).toMatch(/provisional/i);
    expect(STATE_LABELS.provisional).not.toMatch(/final/i);
  });

  it('every role and transition has a label', () => {
    for (const r of ROLES) expect(ROLE_LABELS[r].length).toBeGreaterThan(0);
    for (const t of TRANSITION_NAMES) expect(TRANSITION_VERBS[t].length).toBeGreaterThan(0);
  });
});

describe('every transition × every state × every role', () => {
  const cases = TRANSITION_NAMES.flatMap((t) => REPORT_STATES.flatMap((from) => ROLES.map((role) => ({ t, from, role }))));

  it(`${cases.length} cases: allowed exactly when the state and the role allow it; the state is judged first`, () => {
    for (const { t, from, role } of cases) {
      const e = EXPECTED[t];
      const stateOk = e.from.includes(from);
      const roleOk = e.roles.includes(role);
      const got = checkTransition(from, t, role);
      const label = `${t} from ${from} by ${role}`;
      if (stateOk && roleOk) {
        expect(got, label).toEqual({ ok: true, to: e.to });
      } else {
        expect(got.ok, label).toBe(false);
        if (!got.ok) {
          // The reason names what is wrong: the state when the state is wrong, else the role.
          if (!stateOk) expect(got.reason, label).toContain(`"${from}"`);
          else expect(got.reason, label).toContain(ROLE_LABELS[role].toLowerCase());
        }
      }
      expect(checkTransitionFrom(from, t), label).toEqual(stateOk ? { ok: true, to: e.to } : expect.objectContaining({ ok: false }));
    }
  });

  it('each transition carries its signature meaning and its action', () => {
    for (const t of TRANSITION_NAMES) {
      expect(TRANSITIONS[t].meaning, t).toBe(EXPECTED[t].meaning);
      expect(ROLES.filter((r) => roleMay(r, TRANSITIONS[t].action)), t).toEqual(ROLES.filter((r) => EXPECTED[t].roles.includes(r)));
    }
  });

  it('a radiologist cannot verify; only a trainer can; nobody signs or verifies anything final by addendum', () => {
    expect(checkTransition('provisional', 'verify', 'radiologist')).toMatchObject({ ok: false, reason: expect.stringMatching(/verified by a trainer/) });
    expect(checkTransition('provisional', 'verify', 'trainer')).toEqual({ ok: true, to: 'final' });
    expect(checkTransition('provisional', 'addendum', 'trainer').ok).toBe(false);
    expect(checkTransition('final', 'verify', 'trainer').ok).toBe(false);
  });

  it('signingTransitionFor: reporters sign final, a trainee provisional, a referrer or safety lead nothing', () => {
    const expected: Record<Role, Transition | null> = {
      radiologist: 'sign-final',
      radiographer: 'sign-final',
      locum: 'sign-final',
      trainer: 'sign-final',
      trainee: 'sign-provisional',
      referrer: null,
      'safety-lead': null,
    };
    for (const r of ROLES) expect(signingTransitionFor(r), r).toBe(expected[r]);
  });

  it('referrers and safety leads never draft; a trainee never takes over', () => {
    for (const r of ['referrer', 'safety-lead'] as const) expect(roleMay(r, 'draft:write')).toBe(false);
    expect(roleMay('trainee', 'draft:take-over')).toBe(false);
    expect(roleMay('safety-lead', 'draft:read')).toBe(false);
  });
});

describe('stateFromSignatures', () => {
  const ok: [SignatureMeaning[], ReportState][] = [
    [[], 'draft'],
    [['provisional'], 'provisional'],
    [['final-report'], 'final'],
    [['provisional', 'verification'], 'final'],
    [['final-report', 'addendum'], 'appended'],
    [['final-report', 'addendum', 'addendum', 'addendum'], 'appended'],
    [['provisional', 'verification', 'addendum'], 'appended'],
  ];
  it.each(ok)('%j makes %s', (meanings, state) => {
    expect(stateFromSignatures(meanings)).toBe(state);
  });

  const bad: SignatureMeaning[][] = [
    ['verification'],
    ['addendum'],
    ['provisional', 'addendum'],
    ['provisional', 'final-report'],
    ['provisional', 'provisional'],
    ['final-report', 'final-report'],
    ['final-report', 'verification'],
    ['provisional', 'verification', 'verification'],
    ['final-report', 'addendum', 'provisional'],
  ];
  it.each(bad)('%j is not a life cycle and throws', (...meanings) => {
    expect(() => stateFromSignatures(meanings)).toThrow(/cannot follow/);
  });
});

describe('FHIR DiagnosticReport.status and DICOM SR flags for every state', () => {
  const expected: Record<ReportState, { fhir: string | null; completion: string; verification: string }> = {
    draft: { fhir: 'partial', completion: 'PARTIAL', verification: 'UNVERIFIED' },
    provisional: { fhir: 'preliminary', completion: 'COMPLETE', verification: 'UNVERIFIED' },
    final: { fhir: 'final', completion: 'COMPLETE', verification: 'VERIFIED' },
    appended: { fhir: 'appended', completion: 'COMPLETE', verification: 'VERIFIED' },
    'taken-over': { fhir: null, completion: 'PARTIAL', verification: 'UNVERIFIED' },
  };
  it.each([...REPORT_STATES])('%s', (s) => {
    expect(FHIR_STATUS[s]).toBe(expected[s].fhir);
    expect(SR_FLAGS[s]).toEqual({ completion: expected[s].completion, verification: expected[s].verification });
  });

  it('only a final report (with or without addenda) is VERIFIED or FHIR final/appended: a provisional one never is', () => {
    for (const s of REPORT_STATES) {
      expect(SR_FLAGS[s].verification === 'VERIFIED', s).toBe(isFinal(s));
      expect(['final', 'appended'].includes(FHIR_STATUS[s] ?? ''), s).toBe(isFinal(s));
      expect(SR_FLAGS[s].completion === 'COMPLETE', s).toBe(isSigned(s));
    }
  });
});
