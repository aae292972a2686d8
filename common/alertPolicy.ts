// The default alert policy of domain.md §2: how soon each alert category must be acknowledged,
// and who is told when that deadline is missed. Per-site policy files override these defaults;
// the editor shows them wherever an alert is chosen.
import type { AlertCategory } from './report.ts';

export type AlertDeadline =
  | { kind: 'hours'; hours: number }
  | { kind: 'working-days'; days: number }
  | { kind: 'none' };

export interface AlertPolicyEntry {
  category: AlertCategory;
  deadline: AlertDeadline;
  /** Plain wording for people, e.g. "acknowledge within 1 hour". */
  acknowledge: string;
  /** Who the alert escalates to, in order, when the deadline is missed. */
  escalateTo: readonly string[];
  /** Extra requirement at sign-off, if any. */
  atSignOff?: string;
}

export const DEFAULT_ALERT_POLICY: Readonly<Record<AlertCategory, AlertPolicyEntry>> = {
  critical: {
    category: 'critical',
    deadline: { kind: 'hours', hours: 1 },
    acknowledge: 'acknowledge within 1 hour',
    escalateTo: ["requester's consultant", "site's duty radiologist"],
    atSignOff: 'verbal communication to a responsible clinician recorded (who, role, when)',
  },
  urgent: {
    category: 'urgent',
    deadline: { kind: 'hours', hours: 24 },
    acknowledge: 'acknowledge within 24 hours',
    escalateTo: ["requester's consultant"],
  },
  cancer: {
    category: 'cancer',
    deadline: { kind: 'working-days', days: 2 },
    acknowledge: 'acknowledge within 2 working days',
    escalateTo: ['cancer pathway lead'],
    atSignOff: 'suspected primary site recorded',
  },
  significant: {
    category: 'significant',
    deadline: { kind: 'hours', hours: 7 * 24 },
    acknowledge: 'acknowledge within 7 days',
    escalateTo: ['clinical director (imaging safety lead)'],
  },
  none: {
    category: 'none',
    deadline: { kind: 'none' },
    acknowledge: 'no alert, no acknowledgement needed',
    escalateTo: [],
  },
};

/** One line for people: "acknowledge within 1 hour; escalates to requester's consultant, then site's duty radiologist". */
export function describeAlertPolicy(category: AlertCategory, policy: Readonly<Record<AlertCategory, AlertPolicyEntry>> = DEFAULT_ALERT_POLICY): string {
  const p = policy[category];
  if (p.escalateTo.length === 0) return p.acknowledge;
  return `${p.acknowledge}; if missed, escalates to ${p.escalateTo.join(', then ')}`;
}
