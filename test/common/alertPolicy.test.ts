import { describe, expect, it } from 'vitest';
import { DEFAULT_ALERT_POLICY, describeAlertPolicy } from '../../common/alertPolicy.ts';
import { ALERT_CATEGORIES } from '../../common/report.ts';

describe('default alert policy (domain.md §2)', () => {
  it('covers every category with its deadline', () => {
    expect(Object.keys(DEFAULT_ALERT_POLICY).sort()).toEqual([...ALERT_CATEGORIES].sort());
    expect(DEFAULT_ALERT_POLICY.critical.deadline).toEqual({ kind: 'hours', hours: 1 });
    expect(DEFAULT_ALERT_POLICY.urgent.deadline).toEqual({ kind: 'hours', hours: 24 });
    expect(DEFAULT_ALERT_POLICY.cancer.deadline).toEqual({ kind: 'working-days', days: 2 });
    expect(DEFAULT_ALERT_POLICY.significant.deadline).toEqual({ kind: 'hours', hours: 168 });
    expect(DEFAULT_ALERT_POLICY.none.deadline).toEqual({ kind: 'none' });
  });

  it('describes deadline and escalation for people', () => {
    expect(describeAlertPolicy('critical')).toBe("acknowledge within 1 hour; if missed, escalates to requester's consultant, then site's duty radiologist");
    expect(describeAlertPolicy('cancer')).toContain('2 working days');
    expect(describeAlertPolicy('significant')).toContain('7 days');
    expect(describeAlertPolicy('none')).toBe('no alert, no acknowledgement needed');
  });
});
