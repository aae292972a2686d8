// Hazard "finding lost when the template is switched" (issue 7 finding 2): "Type in 'Brain
// parenchyma' (MR brain), switch to Generic: the text vanishes; after signing it is absent from the
// signed view but still inside the signed content sent to the hub."
// For EVERY pair of templates: every field of A written with distinct text, switched to B through
// the store (as the editor's template choice does), B's empty fields written, signed; the real
// SignedReport rendered (react-dom/server) must show exactly the signed content: every string in
// it appears in the view, and every piece of report text the view shows is that string at that
// place in the signed content. The audit trail names the fields moved.
import fs from 'node:fs';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailsafeApi } from '../../common/contract.ts';
import { formatDateTime } from '../../common/format.ts';
import { SignedReportPayload } from '../../common/hubPayload.ts';
import { ALERT_LABELS, type Report, type ReportContent, type StudyRef } from '../../common/report.ts';
import { CARRIED_OVER_TITLE, getTemplate, textFieldsOf, TEMPLATES, type Template } from '../../common/templates.ts';
import type { Db } from '../../main/db/database.ts';
import { ReportStore } from '../../main/reports/ReportStore.ts';
import type { Client } from '../../renderer/api.ts';
import { ClientContext } from '../../renderer/data/client.ts';
import { SignedReport } from '../../renderer/report/SignedReport.tsx';
import { fixtureExam, RADIOLOGIST, tempDb } from '../main/reports/fixtures.ts';

const api = new Proxy({} as FailsafeApi, { get: () => () => new Promise(() => undefined) });
const client: Client = { api, events: null, transport: 'http', callKeepalive: () => new Promise(() => undefined) };

const decode = (s: string): string =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#x27;|&#39;/g, "'").replace(/&amp;/g, '&');

function renderSigned(report: Report): string {
  return renderToStaticMarkup(
    createElement(ClientContext, { value: client }, createElement(SignedReport, { report, profile: RADIOLOGIST, register: () => undefined, onReport: () => undefined })),
  );
}
const visibleText = (html: string): string => decode(html.replace(/<[^>]+>/g, ' '));

/** Every string leaf of the content with its path ("fields.conclusion", "carriedOver.0.text"). */
function leaves(value: unknown, path: string[] = []): [string, string][] {
  if (typeof value === 'string') return value === '' ? [] : [[path.join('.'), value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...path, String(i)]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  return [];
}

/** How a string of the signed content is shown: coded values by their label, ids not at all, text as written. */
type Shown = { kind: 'text' } | { kind: 'label'; label: string } | { kind: 'none' };
function shownAs(path: string, value: string): Shown {
  if (path === 'templateId' || /^carriedOver\.\d+\.templateId$/.test(path)) return { kind: 'label', label: getTemplate(value).title };
  if (path === 'alertCode' || /^unexpected\.items\.\d+\.category$/.test(path)) return { kind: 'label', label: ALERT_LABELS[value as keyof typeof ALERT_LABELS] };
  if (path === 'verbal.time') return { kind: 'label', label: formatDateTime(value) };
  // The kinds are shown as sentences ("Compared with:", "No clinically significant unexpected findings.");
  // finding ids and a carried piece's field id (shown by its label) are identifiers.
  if (/^(comparison|unexpected)\.kind$|^unexpected\.items\.\d+\.id$|^carriedOver\.\d+\.fieldId$/.test(path)) return { kind: 'none' };
  return { kind: 'text' };
}

/** The report text the view marks as signed content: path → text (a <time> gives its machine-readable value). */
function markedText(html: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of html.matchAll(/<(\w+)([^>]*?)\sdata-signed="([^"]+)"([^>]*)>([\s\S]*?)<\/\1>/g)) {
    const attrs = `${m[2]} ${m[4]}`;
    const dateTime = /datetime="([^"]*)"/i.exec(attrs);
    expect(out.has(m[3]!), `${m[3]} shown twice`).toBe(false);
    out.set(decode(m[3]!), decode(dateTime ? dateTime[1]! : m[5]!));
  }
  return out;
}

/** Checks that the signed view shows exactly the signed content. */
function expectViewIsSignedContent(report: Report): void {
  const html = renderSigned(report);
  const text = visibleText(html);
  const all = leaves(report.content);
  // 1. Everything signed is on screen (the finding: text signed but not shown).
  for (const [path, value] of all) {
    const shown = shownAs(path, value);
    if (shown.kind === 'text') expect(text, `signed ${path} is not shown`).toContain(value);
    if (shown.kind === 'label') expect(text, `signed ${path} (${value}) is not shown`).toContain(shown.label);
  }
  // 2. The report text on screen is exactly the signed text, each piece at its place, nothing else.
  const expected = new Map(all.filter(([p, v]) => shownAs(p, v).kind === 'text' || p === 'verbal.time'));
  expect(markedText(html)).toEqual(expected);
  // Carried pieces are labelled with their old field and template, under the section's heading.
  if (report.content.carriedOver) {
    expect(text).toContain(CARRIED_OVER_TITLE);
    for (const p of report.content.carriedOver) expect(text.replace(/\s+/g, '')).toContain(`${p.label}(${p.templateTitle})`.replace(/\s+/g, ''));
  } else expect(text).not.toContain(CARRIED_OVER_TITLE);
}

let db: Db;
let dir: string;
let store: ReportStore;
let clock = Date.parse('2025-03-01T12:00:00.000Z');
let studyNo = 0;
const VERBAL_TIME = '2025-03-01T11:30:00.000Z';

beforeAll(() => {
  ({ db, dir } = tempDb('template-switch'));
  store = new ReportStore(db, { now: () => new Date((clock += 1000)), examFor: fixtureExam });
});
afterAll(() => {
  if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const nextStudy = (): StudyRef => ({ patientId: `PAT-${++studyNo}`, studyUid: `1.2.826.0.1.3680043.8.498.${9000 + studyNo}` });

/** Every string of a report of `t` written, distinct (one with characters HTML escapes). */
function everythingWritten(t: Template, base: ReportContent): ReportContent {
  const fields = { ...base.fields };
  for (const f of textFieldsOf(t)) fields[f.id] = `${t.title} / ${f.label}: written <${f.id}> & "kept"`;
  return {
    ...base,
    fields,
    comparison: { kind: 'compared', text: `${t.id}: MR head 2024-05-01 compared` },
    unexpected: { kind: 'findings', items: [{ id: 'u1', text: `${t.id}: 9 mm nodule, right upper lobe`, category: 'cancer', primarySite: `${t.id}: lung, right upper lobe` }] },
    alertCode: 'critical',
    cancerPrimarySite: `${t.id}: lung (alert)`,
    verbal: { clinician: `${t.id}: Dr Joseph Lister`, role: `${t.id}: ED registrar`, time: VERBAL_TIME },
  };
}

/** Writes A in full, switches to B through the store, writes what B left empty, signs. */
function signedAfterSwitch(a: Template, b: Template): { report: Report; beforeSwitch: ReportContent } {
  const study = nextStudy();
  const opened = store.open(study, { actor: RADIOLOGIST.name, modality: 'OT', description: '', templateId: a.id });
  const beforeSwitch = everythingWritten(a, opened.content);
  store.save(opened.id, study, beforeSwitch, opened.revision, RADIOLOGIST.name);
  const switched = store.open(study, { actor: RADIOLOGIST.name, modality: 'OT', description: '', templateId: b.id });
  expect(switched.content.templateId).toBe(b.id);
  const fields = { ...switched.content.fields };
  for (const f of textFieldsOf(b)) if ((fields[f.id] ?? '').trim() === '') fields[f.id] = `${b.title} / ${f.label}: written after the switch`;
  store.save(opened.id, study, { ...switched.content, fields }, switched.revision, RADIOLOGIST.name);
  return { report: store.sign(opened.id, study, switched.revision + 1, RADIOLOGIST), beforeSwitch };
}

const PAIRS = TEMPLATES.flatMap((a) => TEMPLATES.filter((b) => b.id !== a.id).map((b) => [a.id, b.id] as const));

describe('what the signed view shows is exactly what was signed, for every template pair', () => {
  it.each(PAIRS)('written on %s, switched to %s, signed', (aId, bId) => {
    const a = getTemplate(aId);
    const b = getTemplate(bId);
    const { report, beforeSwitch } = signedAfterSwitch(a, b);
    expect(report.state).toBe('final');
    // Nothing written before the switch is lost from what was signed…
    const signed = new Set(leaves(report.content).map(([, v]) => v));
    for (const [path, v] of leaves(beforeSwitch)) if (shownAs(path, v).kind === 'text') expect(signed, `${path} lost on the switch`).toContain(v);
    // …what was sent to the hub is what was signed…
    const payloads = (db.prepare('SELECT payload FROM outbox WHERE report_id = ?').all(report.id) as { payload: string }[]).map((r) => SignedReportPayload.parse(JSON.parse(r.payload)));
    expect(payloads).toHaveLength(1);
    expect(payloads[0]!.report.content).toEqual(report.content);
    // …and the signed view shows exactly that.
    expectViewIsSignedContent(report);
  });
});

describe('the finding as reported: MR brain "Brain parenchyma", then Generic', () => {
  it('the text is carried, labelled, counts as nothing for Findings, is signed and shown; the audit trail names it', () => {
    const study = nextStudy();
    const opened = store.open(study, { actor: RADIOLOGIST.name, modality: 'MR', description: 'MRI BRAIN' });
    expect(opened.content.templateId).toBe('mr-brain');
    const typed = { ...opened.content, fields: { ...opened.content.fields, brainParenchyma: 'Small chronic infarct, left cerebellar hemisphere.' } };
    store.save(opened.id, study, typed, 0, RADIOLOGIST.name);
    const switched = store.open(study, { actor: RADIOLOGIST.name, modality: 'MR', description: 'MRI BRAIN', templateId: 'generic' });
    expect(switched.content.fields['brainParenchyma']).toBeUndefined();
    expect(switched.content.carriedOver).toEqual([
      { fieldId: 'brainParenchyma', label: 'Brain parenchyma', templateId: 'mr-brain', templateTitle: 'MR brain', text: 'Small chronic infarct, left cerebellar hemisphere.' },
    ]);
    const change = store.audit(opened.id).filter((e) => e.action === 'template-change');
    expect(change.map((e) => e.detail)).toEqual([`mr-brain → generic; moved to "${CARRIED_OVER_TITLE}": Brain parenchyma (brainParenchyma, MR brain)`]);

    // The carried text does not satisfy Generic's required Findings: signing is refused until it is written.
    const ready: ReportContent = { ...switched.content, comparison: { kind: 'none-available', text: '' }, unexpected: { kind: 'none' }, alertCode: 'none', fields: { ...switched.content.fields, conclusion: 'Old infarct only.' } };
    store.save(opened.id, study, ready, switched.revision, RADIOLOGIST.name);
    expect(() => store.sign(opened.id, study, switched.revision + 1, RADIOLOGIST)).toThrow(/Findings is empty/);
    store.save(opened.id, study, { ...ready, fields: { ...ready.fields, findings: 'See below.' } }, switched.revision + 1, RADIOLOGIST.name);
    const report = store.sign(opened.id, study, switched.revision + 2, RADIOLOGIST);
    expect(visibleText(renderSigned(report))).toContain('Small chronic infarct, left cerebellar hemisphere.');
    expectViewIsSignedContent(report);

    // Switching back on another draft puts it back, and the audit says so.
    const study2 = nextStudy();
    const d = store.open(study2, { actor: RADIOLOGIST.name, modality: 'MR', description: 'MRI BRAIN' });
    store.save(d.id, study2, typed, 0, RADIOLOGIST.name);
    store.open(study2, { actor: RADIOLOGIST.name, modality: 'MR', description: '', templateId: 'generic' });
    const back = store.open(study2, { actor: RADIOLOGIST.name, modality: 'MR', description: '', templateId: 'mr-brain' });
    expect(back.content).toEqual(typed);
    expect(store.audit(d.id).filter((e) => e.action === 'template-change').at(-1)!.detail).toBe(
      'generic → mr-brain; put back into their fields: Brain parenchyma (brainParenchyma, MR brain)',
    );
  });

  it('a draft an older version left with hidden text shows it as carried text when opened (audited), and hidden text can never be signed', () => {
    const study = nextStudy();
    const d = store.open(study, { actor: RADIOLOGIST.name, modality: 'OT', description: '', templateId: 'generic' });
    const legacy: ReportContent = {
      ...d.content,
      fields: { ...d.content.fields, findings: 'Normal.', conclusion: 'Normal.', brainParenchyma: 'Hidden by the old switch.' },
      comparison: { kind: 'none-available', text: '' },
      unexpected: { kind: 'none' },
      alertCode: 'none',
    };
    store.save(d.id, study, legacy, 0, RADIOLOGIST.name);
    expect(() => store.sign(d.id, study, 1, RADIOLOGIST)).toThrow(/would be signed unseen/);
    const reopened = store.open(study, { actor: RADIOLOGIST.name, modality: 'OT', description: '' });
    expect(reopened.content.fields['brainParenchyma']).toBeUndefined();
    expect(reopened.content.carriedOver?.map((p) => p.text)).toEqual(['Hidden by the old switch.']);
    expect(store.audit(d.id).at(-1)).toMatchObject({ action: 'edit', detail: `moved to "${CARRIED_OVER_TITLE}": Brain parenchyma (brainParenchyma, CT head)` });
    expectViewIsSignedContent(store.sign(d.id, study, reopened.revision, RADIOLOGIST));
  });

  it('a signed report holding text its template does not lay out (signed by an older version) still shows all of it', () => {
    const content: ReportContent = {
      templateId: 'generic',
      fields: { findings: 'Normal.', conclusion: 'Normal.', brainParenchyma: 'Signed by the old version, hidden.' },
      comparison: { kind: 'none-available', text: '' },
      unexpected: { kind: 'none' },
      alertCode: 'none',
    };
    const report: Report = {
      id: 'legacy', study: nextStudy(), exam: null, state: 'final', content, revision: 3, createdAt: '2024-01-01T00:00:00Z', updatedAt: '2024-01-01T00:00:00Z', author: RADIOLOGIST.name,
      signatures: [], addenda: [],
    };
    expect(visibleText(renderSigned(report))).toContain('Signed by the old version, hidden.');
    const marked = markedText(renderSigned(report));
    expect(marked.get('fields.brainParenchyma')).toBe('Signed by the old version, hidden.');
  });

  it('text left over in the content (a verbal record under a non-critical alert, a comparison text with "none available") is shown, not hidden', () => {
    const study = nextStudy();
    const d = store.open(study, { actor: RADIOLOGIST.name, modality: 'OT', description: '', templateId: 'generic' });
    const content: ReportContent = {
      ...d.content,
      fields: { ...d.content.fields, technique: 'Plain film.', findings: 'Normal.', conclusion: 'Normal.' },
      comparison: { kind: 'none-available', text: 'Typed before choosing none available.' },
      unexpected: { kind: 'none' },
      alertCode: 'urgent',
      cancerPrimarySite: 'Left over from a cancer alert.',
      verbal: { clinician: 'Dr Left Over', role: 'Typed before the alert changed', time: VERBAL_TIME },
    };
    store.save(d.id, study, content, 0, RADIOLOGIST.name);
    expectViewIsSignedContent(store.sign(d.id, study, 1, RADIOLOGIST));
  });
});
