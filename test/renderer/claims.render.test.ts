// Issue 7 findings 6 and 7 on screen (react-dom/server, a stand-in API client): the library says
// who is reporting a study and since when ("Being reported by Dr X since 10:42"), or that it was
// opened and left; the question before opening a study someone else reports names them and the
// one-report rule, and offers Cancel first. Claims come from the Unfinished list (the hub's
// drafts), read by study UID.
import { createElement, type ReactElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { AppInfo, FailsafeApi, PatientSummary } from '../../common/contract.ts';
import { formatClock } from '../../common/format.ts';
import type { Client } from '../../renderer/api.ts';
import { ClientContext } from '../../renderer/data/client.ts';
import { ClaimDialog, ClaimLine, ClaimsContext, claimText, type Claims, type StudyClaim } from '../../renderer/hub/claims.tsx';
import { Library } from '../../renderer/Library.tsx';

const api = new Proxy({} as FailsafeApi, { get: () => () => new Promise(() => undefined) });
const client: Client = { api, events: null, transport: 'http', callKeepalive: () => new Promise(() => undefined) };
const appInfo: AppInfo = { mode: 'browser', version: 'test', fileBaseUrl: 'http://127.0.0.1/files/', fileAuthHeader: null, sampleStudyUid: null, demo: false };

const since = new Date(Date.now() - 5 * 60_000).toISOString();
const claim = (over: Partial<StudyClaim>): StudyClaim => ({ reportId: 'r1', ownerName: 'Dr Xavier Other', ownerUsername: 'xavier', since, closed: false, mine: false, ...over });

function text(el: ReactElement, claims: Claims): string {
  return renderToStaticMarkup(createElement(ClientContext, { value: client }, createElement(ClaimsContext, { value: claims }, el)))
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

const patients: PatientSummary[] = [{
  patientId: 'P1', patientName: 'DOE^Jane', birthDate: '19600101', sex: 'F', issuer: '', identityConflict: null,
  studies: [
    { studyUid: '1.1', patientId: 'P1', patientName: 'DOE^Jane', studyDate: '20261128', description: 'CT HEAD', modalities: ['CT'], accession: 'A1', series: [] },
    { studyUid: '1.2', patientId: 'P1', patientName: 'DOE^Jane', studyDate: '20261101', description: 'CT CHEST', modalities: ['CT'], accession: 'A2', series: [] },
  ],
} as unknown as PatientSummary];

const NO_LIST: Claims['list'] = { data: null, error: null, reload: () => undefined };

describe('claims on screen', () => {
  it('the library says who is reporting a study since when, and that a study was opened and left; a study nobody claims says nothing', () => {
    const claims: Claims = {
      on: (uid) => (uid === '1.1' ? [claim({}), claim({ reportId: 'r2', ownerName: 'Dr Lou Locum', closed: true })] : []),
      othersNow: async () => [],
      list: NO_LIST,
    };
    const t = text(createElement(Library, { appInfo, patients, currentStudyUid: null, folderInputRef: { current: null }, refreshKey: 0, visible: false, onOpenStudy: () => undefined, onLibraryChanged: () => undefined }), claims);
    expect(t).toContain(`Being reported by Dr Xavier Other since ${formatClock(since)}`);
    expect(t).toContain(`Opened by Dr Lou Locum at ${formatClock(since)} and left unfinished`);
    expect(t.match(/Being reported by|Opened by/g)).toHaveLength(2);
  });

  it('the study header shows only the others\' claims; your own reads "you"', () => {
    const claims: Claims = { on: () => [claim({ mine: true, ownerName: 'Me' }), claim({ reportId: 'r3' })], othersNow: async () => [], list: NO_LIST };
    const t = text(createElement(ClaimLine, { studyUid: '1.1', othersOnly: true }), claims);
    expect(t).toContain('Dr Xavier Other');
    expect(t).not.toContain('you');
    expect(claimText(claim({ mine: true }))).toMatch(/^Being reported by you since/);
  });

  it('the question before opening a claimed study names who and since when, the one-report rule, and offers Cancel first', () => {
    const q = { studyUid: '1.1', label: 'Jane DOE (ID P1), CT HEAD', others: [claim({})] };
    const html = renderToStaticMarkup(createElement(ClaimDialog, { question: q, onCancel: () => undefined, onContinue: () => undefined }));
    const t = html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
    expect(t).toContain(`Being reported by Dr Xavier Other since ${formatClock(since)}`);
    expect(t).toMatch(/one report per study/);
    expect(t).toMatch(/addendum/);
    expect(t.indexOf('Cancel: do not open')).toBeLessThan(t.indexOf('Open and report it too'));
    expect(renderToStaticMarkup(createElement(ClaimDialog, { question: null, onCancel: () => undefined, onContinue: () => undefined }))).toBe('');
  });
});
