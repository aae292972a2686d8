// The default alert policy of domain.md §2: how soon each alert category must be acknowledged,
// and who is told when that deadline is missed. Per-site policy files override these defaults
// (common/hub.ts SitePolicy: alertDeadlines, escalation, calendar); the editor shows them wherever
// an alert is chosen. The deadline and ladder of one alert are computed in common/alertDeadline.ts.
//
// The escalation ladder. Rung 0 is always the requester (anyone on the requester's team may
// acknowledge), with the category's deadline. Each later rung is who becomes responsible when the
// rung before it missed its deadline, and how long that rung has in turn; the last rung has no
// deadline: it holds the alert until someone acknowledges it (the imaging safety lead's dashboard
// shows every escalated alert as well, issue 9). Escalation adds a person, it removes nobody:
// anyone on an earlier rung may still acknowledge. The defaults are domain.md §2's table; where it
// names two rungs (critical) the first gets as long as the requester had (1 hour), since the
// domain names no other figure.
import { z } from 'zod';
import type { AlertCategory } from './report.ts';

const HoursDeadline = z.object({ kind: z.literal('hours'), hours: z.number().positive().max(24 * 365) });
const WorkingDaysDeadline = z.object({ kind: z.literal('working-days'), days: z.number().int().positive().max(365) });

/** How long an alert's first rung has to acknowledge: elapsed hours, working days on the site calendar, or no deadline. */
export const AlertDeadlineSchema = z.discriminatedUnion('kind', [HoursDeadline, WorkingDaysDeadline, z.object({ kind: z.literal('none') })]);
export type AlertDeadline = z.infer<typeof AlertDeadlineSchema>;

/** Who may be responsible for an alert, as the ladder names them (routing resolves them to people). */
export const ESCALATION_RECIPIENTS = {
  requester: 'the requester or their team',
  'requester-consultant': "requester's consultant",
  'duty-radiologist': "site's duty radiologist",
  'cancer-pathway-lead': 'cancer pathway lead',
  'imaging-safety-lead': 'clinical director (imaging safety lead)',
} as const;
export type EscalationRecipient = keyof typeof ESCALATION_RECIPIENTS;
export const EscalationRecipient = z.enum(Object.keys(ESCALATION_RECIPIENTS) as [EscalationRecipient, ...EscalationRecipient[]]);

/** One rung above the requester: who is told, and how long they have before the next rung is (none on the last rung). */
export const EscalationRung = z.object({
  to: EscalationRecipient.exclude(['requester'], { error: 'the requester is always the first rung: escalate to someone else' }),
  within: z.discriminatedUnion('kind', [HoursDeadline, WorkingDaysDeadline]).optional(),
}).strict();
export type EscalationRung = z.infer<typeof EscalationRung>;

/** The rungs above the requester, in order: at least one, each person once, a deadline on every rung but the last. */
export const EscalationLadder = z.array(EscalationRung).min(1, 'an alert must escalate to someone: give at least one rung').max(8).superRefine((rungs, ctx) => {
  rungs.forEach((rung, i) => {
    const last = i === rungs.length - 1;
    if (!last && !rung.within) {
      ctx.addIssue({ code: 'custom', path: [i, 'within'], message: `${ESCALATION_RECIPIENTS[rung.to]} is not the last rung: give "within", how long before the next rung is told` });
    }
    if (last && rung.within) {
      ctx.addIssue({ code: 'custom', path: [i, 'within'], message: `the last rung (${ESCALATION_RECIPIENTS[rung.to]}) holds the alert until it is acknowledged: it has no "within"` });
    }
    if (rungs.findIndex((r) => r.to === rung.to) !== i) {
      ctx.addIssue({ code: 'custom', path: [i, 'to'], message: `${ESCALATION_RECIPIENTS[rung.to]} is on the ladder twice` });
    }
  });
});
export type EscalationLadder = z.infer<typeof EscalationLadder>;

export interface AlertPolicyEntry {
  category: AlertCategory;
  deadline: AlertDeadline;
  /** Plain wording for people, e.g. "acknowledge within 1 hour". */
  acknowledge: string;
  /** The rungs above the requester, in order, when the deadline is missed ([] for no alert). */
  escalation: readonly EscalationRung[];
  /** Extra requirement at sign-off, if any. */
  atSignOff?: string;
}

export const DEFAULT_ALERT_POLICY: Readonly<Record<AlertCategory, AlertPolicyEntry>> = {
  critical: {
    category: 'critical',
    deadline: { kind: 'hours', hours: 1 },
    acknowledge: 'acknowledge within 1 hour',
    escalation: [{ to: 'requester-consultant', within: { kind: 'hours', hours: 1 } }, { to: 'duty-radiologist' }],
    atSignOff: 'verbal communication to a responsible clinician recorded (who, role, when)',
  },
  urgent: {
    category: 'urgent',
    deadline: { kind: 'hours', hours: 24 },
    acknowledge: 'acknowledge within 24 hours',
    escalation: [{ to: 'requester-consultant' }],
  },
  cancer: {
    category: 'cancer',
    deadline: { kind: 'working-days', days: 2 },
    acknowledge: 'acknowledge within 2 working days',
    escalation: [{ to: 'cancer-pathway-lead' }],
    atSignOff: 'suspected primary site recorded',
  },
  significant: {
    category: 'significant',
    deadline: { kind: 'hours', hours: 7 * 24 },
    acknowledge: 'acknowledge within 7 days',
    escalation: [{ to: 'imaging-safety-lead' }],
  },
  none: {
    category: 'none',
    deadline: { kind: 'none' },
    acknowledge: 'no alert, no acknowledgement needed',
    escalation: [],
  },
};

/** One line for people: "acknowledge within 1 hour; escalates to requester's consultant, then site's duty radiologist". */
export function describeAlertPolicy(category: AlertCategory, policy: Readonly<Record<AlertCategory, AlertPolicyEntry>> = DEFAULT_ALERT_POLICY): string {
  const p = policy[category];
  if (p.escalation.length === 0) return p.acknowledge;
  return `${p.acknowledge}; if missed, escalates to ${p.escalation.map((r) => ESCALATION_RECIPIENTS[r.to]).join(', then ')}`;
}

/** A fresh copy of a category's default ladder (a parsed policy never shares objects with the defaults). */
const defaultLadder = (category: Exclude<AlertCategory, 'none'>) => (): EscalationRung[] =>
  DEFAULT_ALERT_POLICY[category].escalation.map((r) => (r.within ? { ...r, within: { ...r.within } } : { ...r }));

/** The site policy's `escalation`: a ladder per alert category (no alert, no ladder), each defaulting to domain.md §2. */
export const EscalationPolicy = z.object({
  critical: EscalationLadder.default(defaultLadder('critical')),
  urgent: EscalationLadder.default(defaultLadder('urgent')),
  cancer: EscalationLadder.default(defaultLadder('cancer')),
  significant: EscalationLadder.default(defaultLadder('significant')),
}).strict();
export type EscalationPolicy = z.infer<typeof EscalationPolicy>;
