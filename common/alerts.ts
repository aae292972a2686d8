// The closed loop of an alert (domain.md §2, issue 9): who it is routed to, who is responsible
// now, its timeline, its acknowledgement, the safety lead's dashboard. The one contract the hub
// (server/alerts.ts), the referrer page (server/web/), the workstation and the tests share.
//
// Routing: the site directory maps a requester (the DICOM Referring Physician Name as written,
// or the requesting service) to a team of hub users. An alert whose requester is unknown or not
// in the directory is routed at once to the duty radiologist, with the reason kept on the alert;
// it is never parked. Responsibility: rung 0 of the ladder is the requester's team; each missed
// deadline adds the next rung (common/alertDeadline.ts). Escalation adds people, it removes none:
// anyone responsible for an earlier rung may still acknowledge.
import { z } from 'zod';
import { EscalationRecipient, ESCALATION_RECIPIENTS } from './alertPolicy.ts';
import { HubSignedReport } from './hub.ts';
import { Role } from './lifecycle.ts';
import { ALERT_CATEGORIES, storableString } from './report.ts';
import { isMeaningfulText } from './text.ts';

export const ALERT_STATES = ['open', 'acknowledged'] as const;
export const AlertState = z.enum(ALERT_STATES);
export type AlertState = z.infer<typeof AlertState>;

export const AlertCategory = z.enum(ALERT_CATEGORIES).exclude(['none']);
export type RaisedAlertCategory = z.infer<typeof AlertCategory>;

/**
 * Site duties: the ladder's rungs that are not the requester's team. Each is held by one or more
 * hub users (`npm run hub -- directory duty DUTY --username U`).
 */
export const SITE_DUTIES = ['duty-radiologist', 'cancer-pathway-lead', 'imaging-safety-lead'] as const satisfies readonly EscalationRecipient[];
export const SiteDuty = z.enum(SITE_DUTIES);
export type SiteDuty = z.infer<typeof SiteDuty>;

/** What happens to an alert, in order. Every entry is a row of the hub's append-only alert_events. */
export const ALERT_EVENT_TYPES = [
  'created', // stored with its report
  'routed', // to the requester's team (detail: team)
  'unrouted', // requester unknown or not in the directory: to the duty radiologist (detail: reason)
  'notified', // a notification was delivered (detail: channel, to whom)
  'notify-failed', // a notification attempt failed (detail: channel, error, next attempt), or nobody could be notified
  'opened', // a responsible person opened it on the referrer page
  'acknowledged', // by a named person, with an action plan: escalation stops
  'escalated', // a deadline passed unacknowledged: the next rung is responsible
  'phone-call', // a phone call recorded on the workstation (while the hub was unreachable), synced
] as const;
export const AlertEventType = z.enum(ALERT_EVENT_TYPES);
export type AlertEventType = z.infer<typeof AlertEventType>;

export const ALERT_EVENT_LABELS: Readonly<Record<AlertEventType, string>> = {
  created: 'Alert created',
  routed: 'Routed to team',
  unrouted: "Routed to the duty radiologist's queue",
  notified: 'Notified',
  'notify-failed': 'Notification failed',
  opened: 'Opened',
  acknowledged: 'Acknowledged',
  escalated: 'Escalated',
  'phone-call': 'Phone call recorded',
};

/** One timed rung of an alert's ladder (common/alertDeadline.ts LadderStep). */
export const LadderStepSchema = z.object({
  rung: z.number().int(), to: EscalationRecipient, label: z.string(), from: z.string(), dueBy: z.string().nullable(),
});

const Person = z.object({ name: z.string(), role: Role, username: z.string() });
export type AlertPerson = z.infer<typeof Person>;

export const AlertTimelineEvent = z.object({
  seq: z.number().int(),
  at: z.string(),
  type: AlertEventType,
  /** Who did it (null: the hub itself, e.g. an escalation or a notification). */
  actor: Person.nullable(),
  /** Which rung of the ladder it concerns. */
  rung: z.number().int().nullable(),
  /** The event in words, for people ("escalated to requester's consultant: Dr Jones"). */
  text: z.string(),
});
export type AlertTimelineEvent = z.infer<typeof AlertTimelineEvent>;

export const AlertAcknowledgement = z.object({ by: Person, at: z.string(), actionPlan: z.string() });

export const AlertSummary = z.object({
  reportId: z.string(),
  category: AlertCategory,
  finding: z.string(),
  patientId: z.string(),
  studyUid: z.string(),
  accession: z.string().nullable(),
  exam: z.string().nullable(),
  /** The Referring Physician Name as written in DICOM, and the requesting service. */
  requester: z.string().nullable(),
  requestingService: z.string().nullable(),
  team: z.object({ id: z.string(), name: z.string() }).nullable(),
  /** Why the alert went to the duty radiologist rather than a team (null when routed to a team). */
  routingReason: z.string().nullable(),
  signedBy: z.object({ name: z.string(), role: Role }),
  signedAt: z.string(),
  createdAt: z.string(),
  state: AlertState,
  /** The rung responsible now (0: the requester's team), who that is in words, and when it is due (null: holds until acknowledged). */
  rung: z.number().int(),
  responsible: z.object({ to: EscalationRecipient, label: z.string() }),
  dueBy: z.string().nullable(),
  /** The first deadline (the requester's). */
  firstDueBy: z.string().nullable(),
  escalated: z.boolean(),
  acknowledgement: AlertAcknowledgement.nullable(),
  /** Whether the asking user may acknowledge it. */
  mayAcknowledge: z.boolean(),
});
export type AlertSummary = z.infer<typeof AlertSummary>;

export const AlertDetail = AlertSummary.extend({
  ladder: z.array(LadderStepSchema),
  timeline: z.array(AlertTimelineEvent),
  /** The whole signed report the alert belongs to. */
  report: HubSignedReport,
});
export type AlertDetail = z.infer<typeof AlertDetail>;

/** Which alerts GET /api/alerts lists. */
export const ALERT_SCOPES = [
  'mine', // those the user is responsible for now (their teams, their duties on rungs reached)
  'signed-by-me', // those of reports the user signed (the radiologist's "My outstanding alerts")
  'all', // every alert (the imaging safety lead)
] as const;
export const AlertListQuery = z.object({
  scope: z.enum(ALERT_SCOPES).default('mine'),
  state: z.enum(['open', 'acknowledged', 'any']).default('open'),
}).strict();
export type AlertListQuery = z.infer<typeof AlertListQuery>;
export const AlertList = z.object({ alerts: z.array(AlertSummary), now: z.string() });
export type AlertList = z.infer<typeof AlertList>;

export const ACTION_PLAN_MIN = 10;
/** Acknowledgement: the named person says what they will do. */
export const AcknowledgeRequest = z.object({
  actionPlan: storableString(2000).superRefine((s, ctx) => {
    if (!isMeaningfulText(s) || s.trim().length < ACTION_PLAN_MIN) {
      ctx.addIssue({ code: 'custom', message: `Say in a few words what you will do (at least ${ACTION_PLAN_MIN} characters of text).`, input: s });
    }
  }),
}).strict();
export type AcknowledgeRequest = z.infer<typeof AcknowledgeRequest>;

/** A phone call recorded on a workstation, synced to the alert's timeline (id: the workstation's, for exactly-once). */
export const AlertPhoneCall = z.object({
  id: storableString(64).min(1),
  clinician: storableString(200).min(1),
  role: storableString(200).min(1),
  time: z.string().min(1).max(64),
  note: storableString(2000).default(''),
  recordedBy: storableString(200).min(1),
  recordedAt: z.string().min(1).max(64),
}).strict();
export type AlertPhoneCall = z.infer<typeof AlertPhoneCall>;
export const AlertPhoneCalls = z.object({ calls: z.array(AlertPhoneCall).min(1).max(50) }).strict();

export const ALERT_PATHS = {
  list: '/api/alerts',
  alert: (reportId: string) => `/api/alerts/${encodeURIComponent(reportId)}`,
  acknowledge: (reportId: string) => `/api/alerts/${encodeURIComponent(reportId)}/acknowledge`,
  phoneCalls: (reportId: string) => `/api/alerts/${encodeURIComponent(reportId)}/phone-calls`,
  dashboard: '/api/safety/dashboard',
  dashboardCsv: '/api/safety/alerts.csv',
} as const;

// ---- the safety lead's dashboard (issue 9 line 7) --------------------------------------------

/** Age buckets of open alerts, in hours since signature: [0,1), [1,24), [24,168), [168,∞). */
export const AGE_BUCKETS = [
  { label: '< 1 h', fromHours: 0 },
  { label: '1–24 h', fromHours: 1 },
  { label: '1–7 days', fromHours: 24 },
  { label: '> 7 days', fromHours: 168 },
] as const;

export const SafetyDashboard = z.object({
  now: z.string(),
  /** Per category: open alerts, how many escalated, and how many in each age bucket (AGE_BUCKETS order). */
  open: z.array(z.object({ category: AlertCategory, open: z.number().int(), escalated: z.number().int(), byAge: z.array(z.number().int()) })),
  /** Open alerts, escalated ones first (highest rung, then oldest deadline). */
  alerts: z.array(AlertSummary),
  /**
   * Open alerts nobody responsible now has been told of: every notification for the current rung
   * failed (or there was nobody to notify), none was delivered. The page and the phone are then
   * the only way the alert is seen.
   */
  notNotified: z.array(z.string()),
  /** Acknowledged alerts: time to acknowledge against the first deadline, for the plot. */
  acknowledged: z.array(z.object({
    reportId: z.string(), category: AlertCategory, signedAt: z.string(), acknowledgedAt: z.string(),
    /** Minutes from signature to acknowledgement, and the minutes the first deadline allowed (null: none). */
    minutes: z.number(), allowedMinutes: z.number().nullable(), inTime: z.boolean(),
  })),
});
export type SafetyDashboard = z.infer<typeof SafetyDashboard>;

export const recipientLabel = (to: EscalationRecipient): string => ESCALATION_RECIPIENTS[to];
