// Which signing button each role gets, and what it may do to a signed report, read from the one
// life cycle (common/lifecycle.ts): every role × every state, so a new role or state cannot slip
// through with a button it should not have.
import { describe, expect, it } from 'vitest';
import { REPORT_STATES, ROLES, isFinal, roleMay } from '../../common/lifecycle.ts';
import { signActionFor, signButtonLabel, signedReportActions, stateClass, stateLabel, VERIFY_LABEL } from '../../renderer/report/reportActions.ts';

describe('the sign button per role', () => {
  it('a reporter signs a final report; a trainee submits a provisional one; others get no button', () => {
    for (const role of ROLES) {
      const a = signActionFor(role);
      if (roleMay(role, 'report:sign-final')) {
        expect(a?.transition, role).toBe('sign-final');
        expect(a?.label).toBe('Sign report');
        expect(a?.meaning).toBe('final report');
      } else if (roleMay(role, 'report:sign-provisional')) {
        expect(a?.transition, role).toBe('sign-provisional');
        expect(a?.label).toBe('Submit provisional report');
        expect(a?.meaning).toContain('provisional');
      } else {
        expect(a, role).toBeNull();
      }
    }
    expect(signActionFor('trainee')?.label).toBe('Submit provisional report');
    expect(signActionFor('radiologist')?.label).toBe('Sign report');
    expect(signActionFor('referrer')).toBeNull();
    expect(signActionFor('safety-lead')).toBeNull();
  });

  it('says why it is blocked, and that it is working', () => {
    const sign = signActionFor('radiologist')!;
    const submit = signActionFor('trainee')!;
    expect(signButtonLabel(sign, 0, false)).toBe('Sign report');
    expect(signButtonLabel(sign, 2, false)).toBe('Sign (blocked: 2 problems)');
    expect(signButtonLabel(sign, 1, false)).toBe('Sign (blocked: 1 problem)');
    expect(signButtonLabel(submit, 1, false)).toBe('Submit (blocked: 1 problem)');
    expect(signButtonLabel(submit, 0, true)).toBe('Submitting…');
    // A trainee's button never claims to sign a final report.
    for (const n of [0, 1, 3]) for (const busy of [false, true]) expect(signButtonLabel(submit, n, busy)).not.toMatch(/final|Sign report/i);
  });
});

describe('what a role may do to a signed report', () => {
  it('verify: only a trainer, only a provisional report', () => {
    for (const role of ROLES) {
      for (const state of REPORT_STATES) {
        expect(signedReportActions(state, role).verify, `${role} ${state}`).toBe(role === 'trainer' && state === 'provisional');
      }
    }
    expect(VERIFY_LABEL).toBe('Verify and issue final report');
  });

  it('addenda: only on a final report, only for roles that may sign them', () => {
    for (const role of ROLES) {
      for (const state of REPORT_STATES) {
        expect(signedReportActions(state, role).addendum, `${role} ${state}`).toBe(isFinal(state) && roleMay(role, 'report:addendum'));
      }
    }
    expect(signedReportActions('provisional', 'radiologist').addendum).toBe(false);
    expect(signedReportActions('final', 'referrer').addendum).toBe(false);
  });
});

describe('state labels', () => {
  it('only a final report reads FINAL; a provisional one says it awaits verification', () => {
    for (const state of REPORT_STATES) {
      expect(stateLabel(state).includes('FINAL'), state).toBe(isFinal(state));
      expect(stateClass(state) === 'status-final', state).toBe(isFinal(state));
    }
    expect(stateLabel('provisional')).toMatch(/^PROVISIONAL/);
    expect(stateLabel('provisional')).toContain('awaiting verification');
  });
});
