// Hazard "provisional report shown as final": the renderer's own views of a trainee's provisional
// report, rendered (react-dom/server, with a stand-in API client) as the workstation shows them:
// the signed view, the patient banner and the reports list say PROVISIONAL, awaiting
// verification, and never FINAL; a trainer gets "Verify and issue final report", the trainee and
// a radiologist do not; once verified, the report reads FINAL and names both the trainee and the
// trainer; the exam details show, with "requester unknown" when there is no requester.
import { createElement, type ReactElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { FailsafeApi, ReportListItem, StudySummary } from '../../common/contract.ts';
import { emptyReport, type ExamDetails, type Profile, type Report, type SignatureRecord } from '../../common/report.ts';
import type { Client } from '../../renderer/api.ts';
import { ClientContext } from '../../renderer/data/client.ts';
import { ReportsTable } from '../../renderer/library/ReportsTable.tsx';
import { PatientBanner } from '../../renderer/PatientBanner.tsx';
import { SignedReport } from '../../renderer/report/SignedReport.tsx';
import { SignOffPanel } from '../../renderer/report/SignOffPanel.tsx';
import { signActionFor } from '../../renderer/report/reportActions.ts';

/** A client that answers nothing (server rendering runs no effects; nothing may be called during render). */
const calls: string[] = [];
const api = new Proxy({} as FailsafeApi, {
  get: (_t, channel: string) => () => {
    calls.push(channel);
    return new Promise(() => undefined);
  },
});
const client: Client = { api, events: null, transport: 'http', callKeepalive: () => new Promise(() => undefined) };

function html(el: ReactElement): string {
  return renderToStaticMarkup(createElement(ClientContext, { value: client }, el));
}
/** Visible text (tags removed, entities of quotes decoded). */
function text(el: ReactElement): string {
  return html(el)
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .replace(/ ([,.])/g, '$1');
}

const TRAINEE: Profile = { name: 'Dr Alan Turing', role: 'trainee', registration: 'GMC 1111111' };
const TRAINER: Profile = { name: 'Dr Grace Hopper', role: 'trainer', registration: 'GMC 7654321' };
const RADIOLOGIST: Profile = { name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567' };
const study = { patientId: 'P1', studyUid: '1.2.3' };
const exam: ExamDetails = {
  patientName: 'DOE^JANE',
  birthDate: '19800101',
  sex: 'F',
  accession: 'ACC-42',
  modality: 'CT\\SR',
  studyDescription: 'CT HEAD',
  studyDate: '20240315',
  studyTime: '140312',
  referringPhysician: 'HOUSE^GREGORY^^DR',
  requestingService: 'Emergency Department',
};

function signature(p: Profile, meaning: SignatureRecord['meaning'], n: number): SignatureRecord {
  return { id: `s${n}`, reportId: 'r1', addendumId: null, name: p.name, role: p.role, registration: p.registration, signedAt: `2024-03-15T1${n}:00:00Z`, meaning, contentHash: String(n).repeat(64) };
}

const content = { ...emptyReport('ct-head'), fields: { conclusion: 'No acute abnormality.' } };
const provisional: Report = {
  id: 'r1',
  study,
  exam,
  state: 'provisional',
  content,
  revision: 3,
  createdAt: '2024-03-15T09:00:00Z',
  updatedAt: '2024-03-15T10:00:00Z',
  author: TRAINEE.name,
  signatures: [signature(TRAINEE, 'provisional', 0)],
  addenda: [],
};
const verified: Report = { ...provisional, state: 'final', signatures: [signature(TRAINEE, 'provisional', 0), signature(TRAINER, 'verification', 1)] };

const signedView = (report: Report, profile: Profile) => createElement(SignedReport, { report, profile, register: () => undefined, onReport: () => undefined });

describe('a provisional report is never shown as final', () => {
  it('the signed view says PROVISIONAL, awaiting verification, with the trainee\'s signature and the exam', () => {
    for (const viewer of [TRAINEE, TRAINER, RADIOLOGIST]) {
      const t = text(signedView(provisional, viewer));
      expect(t).toContain('PROVISIONAL');
      expect(t).toContain('awaiting verification');
      expect(t).not.toContain('FINAL');
      expect(t).toContain(`Signed by ${TRAINEE.name}, Trainee, registration GMC 1111111`);
      expect(t).toContain('Meaning: provisional report (awaiting verification)');
      expect(t).toContain('ACC-42');
      expect(t).toContain('CT, SR');
      expect(t).toContain('HOUSE, DR GREGORY, Emergency Department');
      expect(t).not.toContain('Requester unknown');
    }
    expect(html(signedView(provisional, TRAINEE))).toContain('data-state="provisional"');
  });

  it('only a trainer gets "Verify and issue final report"; nobody gets an addendum on a provisional report', () => {
    expect(text(signedView(provisional, TRAINER))).toContain('Verify and issue final report');
    for (const p of [TRAINEE, RADIOLOGIST]) expect(text(signedView(provisional, p))).not.toContain('Verify');
    for (const p of [TRAINEE, TRAINER, RADIOLOGIST]) expect(text(signedView(provisional, p))).not.toContain('Add addendum');
  });

  it('the patient banner and the reports list say PROVISIONAL, not FINAL', () => {
    const s: StudySummary = { studyUid: study.studyUid, patientId: 'P1', patientName: 'DOE^JANE', identityConflict: null, studyDate: '20240315', description: 'CT HEAD', accession: 'ACC-42', modalities: ['CT'], series: [] };
    const banner = text(createElement(PatientBanner, { patient: null, study: s, reportState: 'provisional' }));
    expect(banner).toContain('PROVISIONAL');
    expect(banner).not.toContain('FINAL');
    const rows: ReportListItem[] = [
      { id: 'r1', study, state: 'provisional', author: TRAINEE.name, updatedAt: '2024-03-15T10:00:00Z', patientName: 'DOE^JANE', studyDescription: 'CT HEAD' },
      { id: 'r2', study: { ...study, studyUid: '9.9' }, state: 'final', author: RADIOLOGIST.name, updatedAt: '2024-03-15T10:00:00Z', patientName: 'ROE^RICHARD', studyDescription: 'CT CHEST' },
    ];
    const table = html(createElement(ReportsTable, { reports: rows, currentStudyUid: null, statuses: null, onOpenStudy: () => undefined }));
    const provisionalRow = table.split('<tr').find((r) => r.includes('DOE, JANE')) ?? '';
    expect(provisionalRow).toContain('PROVISIONAL');
    expect(provisionalRow).not.toContain('FINAL');
    expect(provisionalRow).toContain('status-provisional');
    expect(table.split('<tr').find((r) => r.includes('ROE, RICHARD'))).toContain('FINAL');
  });

  it('verified: FINAL, naming the trainee and the trainer, oldest signature first', () => {
    const t = text(signedView(verified, RADIOLOGIST));
    expect(t).toContain('FINAL');
    expect(t).not.toContain('PROVISIONAL');
    const trainee = t.indexOf(`Signed by ${TRAINEE.name}, Trainee`);
    const trainer = t.indexOf(`Signed by ${TRAINER.name}, Trainer, registration GMC 7654321`);
    expect(trainee).toBeGreaterThan(-1);
    expect(trainer).toBeGreaterThan(trainee);
    expect(t).toContain('Meaning: verified (final report)');
    expect(t).toContain('Add addendum');
    expect(text(signedView(verified, TRAINER))).not.toContain('Verify and issue');
  });

  it('a study with no requester is flagged "requester unknown"; a report without exam details says so', () => {
    const none = { ...verified, exam: { ...exam, referringPhysician: '^^', requestingService: ' ' } };
    expect(text(signedView(none, RADIOLOGIST))).toContain('Requester unknown');
    expect(text(signedView({ ...verified, exam: null }, RADIOLOGIST))).toContain('not recorded with this report');
  });

  it('the sign-off panel: a trainee submits a provisional report; a referrer has no sign button', () => {
    const panel = (profile: Profile) =>
      html(createElement(SignOffPanel, { problems: [], template: null, profile, action: signActionFor(profile.role), allowed: true, signing: false, waiting: '', error: null, onSign: () => undefined }));
    expect(panel(TRAINEE)).toContain('Submit provisional report');
    expect(panel(TRAINEE)).not.toContain('Sign report');
    expect(panel(RADIOLOGIST)).toContain('Sign report');
    const referrer = panel({ name: 'Dr R', role: 'referrer', registration: 'GMC 5' });
    expect(referrer).not.toContain('data-testid="sign-button"');
    expect(referrer).toContain('does not sign reports');
  });

  it('rendering called nothing on the API', () => {
    expect(calls).toEqual([]);
  });
});

describe('a signed report changed after signing', () => {
  it('the signed view says so above the report, naming each signature that does not verify', () => {
    const why = 'The final-report signature by Dr Ada Lovelace (2024-03-15T10:00:00Z) does not match the report as it is now.';
    const t = text(signedView({ ...verified, tampering: [why] }, RADIOLOGIST));
    expect(t).toContain('Changed after signing.');
    expect(t).toContain('must not be relied on');
    expect(t).toContain(why);
    expect(html(signedView({ ...verified, tampering: [why] }, RADIOLOGIST))).toContain('role="alert"');
    expect(text(signedView(verified, RADIOLOGIST))).not.toContain('Changed after signing');
  });
});
