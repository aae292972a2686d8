// Hazard "another person's name on a patient's studies / wrong-patient prior" (issue 7, line 1):
// the screens as the workstation renders them (react-dom/server, a stand-in API client), fed by
// the real DICOM index holding two people under one Patient ID. The library lists both, each
// under their own name with the conflict sentence; the banner of either's study says so first;
// the priors section says the other person's studies are not offered. A patient without a
// conflict shows no flag.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createElement, type ReactElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppInfo, FailsafeApi, PatientSummary, ReportListItem } from '../../common/contract.ts';
import { openDatabase, type Db } from '../../main/db/database.ts';
import { DicomIndexService } from '../../main/dicom/DicomIndexService.ts';
import type { Client } from '../../renderer/api.ts';
import { ClientContext } from '../../renderer/data/client.ts';
import { Library } from '../../renderer/Library.tsx';
import { PatientBanner } from '../../renderer/PatientBanner.tsx';
import { PriorList } from '../../renderer/PriorList.tsx';
import { identityConflictsByStudy, ReportsTable } from '../../renderer/library/ReportsTable.tsx';
import { image, type El } from '../main/dicom/synth.ts';

const api = new Proxy({} as FailsafeApi, { get: () => () => new Promise(() => undefined) });
const client: Client = { api, events: null, transport: 'http', callKeepalive: () => new Promise(() => undefined) };
const appInfo: AppInfo = { mode: 'browser', version: 'test', fileBaseUrl: 'http://127.0.0.1/files/', fileAuthHeader: null, sampleStudyUid: null, demo: false };

function text(el: ReactElement): string {
  return renderToStaticMarkup(createElement(ClientContext, { value: client }, el))
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

const person = (name: string, birth: string, date: string): El[] => [
  { tag: 0x00100010, vr: 'PN', value: name },
  { tag: 0x00100030, vr: 'DA', value: birth },
  { tag: 0x00080020, vr: 'DA', value: date },
];

let dir: string;
let db: Db;
let patients: PatientSummary[];
let index: DicomIndexService;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-identity-render-'));
  const files: [string, Parameters<typeof image>[0]][] = [
    ['ann.dcm', { sop: '80.1.1', study: '80.1', series: '80.1.9', patientId: 'SHARED-8', elements: [...person('Able^Ann', '19500101', '20230101'), { tag: 0x00081030, vr: 'LO', value: 'CT HEAD' }] }],
    ['bob.dcm', { sop: '80.2.1', study: '80.2', series: '80.2.9', patientId: 'SHARED-8', elements: [...person('Baker^Bob', '19600202', '20240101'), { tag: 0x00081030, vr: 'LO', value: 'CT CHEST' }] }],
    ['bob-old.dcm', { sop: '80.4.1', study: '80.4', series: '80.4.9', patientId: 'SHARED-8', elements: [...person('Baker^Bob', '19600202', '20220101'), { tag: 0x00081030, vr: 'LO', value: 'CT CHEST OLD' }] }],
    ['cy.dcm', { sop: '80.3.1', study: '80.3', series: '80.3.9', patientId: 'ALONE-1', elements: person('Carter^Cy', '19700303', '20240101') }],
  ];
  for (const [name, o] of files) fs.writeFileSync(path.join(dir, name), image(o));
  db = openDatabase(':memory:');
  index = new DicomIndexService(db);
  await index.indexFolder(dir);
  patients = index.listPatients();
});

afterAll(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const patientOf = (uid: string): PatientSummary => patients.find((p) => p.studies.some((s) => s.studyUid === uid))!;

describe('identity conflict on screen', () => {
  it('the library lists both people, each under their own name, each with the conflict sentence', () => {
    const t = text(createElement(Library, { appInfo, patients, currentStudyUid: null, folderInputRef: { current: null }, refreshKey: 0, visible: false, onOpenStudy: () => undefined, onLibraryChanged: () => undefined }));
    expect(t).toContain('Able, Ann ID SHARED-8 · born');
    expect(t).toContain('Baker, Bob ID SHARED-8 · born');
    expect(t.match(/Identity conflict: Patient ID "SHARED-8"/g)).toHaveLength(2);
    expect(t).toContain('is also used in this library for "Baker^Bob", born 19600202 (another name and birth date)');
    expect(t).toContain('is also used in this library for "Able^Ann", born 19500101 (another name and birth date)');
    // Carter has no conflict and no flag: only the two sentences above.
    expect(t.match(/Identity conflict/g)).toHaveLength(2);
  });

  it("the banner of either person's study says so before anything else; a patient without a conflict gets no flag", () => {
    for (const uid of ['80.1', '80.2']) {
      const p = patientOf(uid);
      const t = text(createElement(PatientBanner, { patient: p, study: p.studies[0]!, reportState: null }));
      expect(t.trim().startsWith(`Identity conflict: Patient ID "SHARED-8"`), t).toBe(true);
      expect(t).toContain(p.identityConflict!);
    }
    const cy = patientOf('80.3');
    expect(text(createElement(PatientBanner, { patient: cy, study: cy.studies[0]!, reportState: null }))).not.toContain('Identity conflict');
  });

  it("the priors of Bob's study are his own earlier study, never Ann's, and the list says why", () => {
    const bob = patientOf('80.2').studies.find((s) => s.studyUid === '80.2')!;
    const priors = index.priors({ patientId: bob.patientId, studyUid: bob.studyUid });
    expect(priors.map((p) => p.studyUid)).toEqual(['80.4']);
    const t = text(createElement(PriorList, { study: bob, priors, error: null, shownUid: null, onShow: () => undefined }));
    expect(t).toContain('CT CHEST OLD');
    expect(t).not.toContain('CT HEAD');
    expect(t).toContain('Identity conflict: only earlier studies of this exact patient');
    const cy = patientOf('80.3').studies[0]!;
    expect(text(createElement(PriorList, { study: cy, priors: [], error: null, shownUid: null, onShow: () => undefined }))).not.toContain('Identity conflict');
  });

  it("the reports list marks a report on either person's study, not one on a patient without a conflict", () => {
    const conflicts = identityConflictsByStudy(patients);
    const row = (id: string, uid: string, name: string): ReportListItem => ({ id, study: { patientId: patientOf(uid).patientId, studyUid: uid }, state: 'draft', author: 'Dr A', updatedAt: '2024-03-15T10:00:00Z', patientName: name, studyDescription: 'CT' });
    const html = renderToStaticMarkup(
      createElement(ClientContext, { value: client }, createElement(ReportsTable, { reports: [row('r1', '80.1', 'Able^Ann'), row('r2', '80.3', 'Carter^Cy')], currentStudyUid: null, statuses: null, onOpenStudy: () => undefined, identityConflicts: conflicts })),
    );
    const rows = html.split('<tr').slice(2);
    expect(rows[0]).toContain('Able, Ann');
    expect(rows[0]).toContain('Identity conflict: another patient has this Patient ID');
    expect(rows[0]).toContain('title="Identity conflict: Patient ID &quot;SHARED-8&quot;');
    expect(rows[1]).toContain('Carter, Cy');
    expect(rows[1]).not.toContain('Identity conflict');
  });
});
