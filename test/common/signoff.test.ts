// The sign-off rules of domain.md §3, table-driven: each row is a report and the rules it must
// (or must not) break.
import { describe, expect, it } from 'vitest';
import { cancerPathway, cancerPrimarySites, checkSignOff, canSign, parseIsoDateTime, VERBAL_CLOCK_SKEW_MS, type SignOffContext, type SignOffRule } from '../../common/signoff.ts';
import type { ExamDetails, ReportContent } from '../../common/report.ts';
import { getTemplate } from '../../common/templates.ts';

/** A report that satisfies every rule; rows change one thing. */
function complete(): ReportContent {
  return {
    templateId: 'ct-head',
    fields: {
      clinicalQuestion: 'Headache, ?bleed',
      technique: 'Non-contrast CT head.',
      brainParenchyma: 'No haemorrhage.',
      ventricles: 'Normal.',
      bonesSinuses: 'Normal.',
      conclusion: 'No acute intracranial abnormality.',
    },
    comparison: { kind: 'none-available', text: '' },
    unexpected: { kind: 'none' },
    alertCode: 'none',
  };
}

type Row = [name: string, change: (r: ReportContent) => void, blocked: SignOffRule[]];

const f = (category: 'critical' | 'urgent' | 'cancer' | 'significant' | null, text = 'Lesion', primarySite?: string) => ({
  id: `f-${Math.random().toString(36).slice(2, 8)}`,
  text,
  category,
  ...(primarySite !== undefined ? { primarySite } : {}),
});

const rows: Row[] = [
  ['a complete report is signable', () => {}, []],
  // Rule 1: unexpected findings never blank.
  ['rule 1: unexpected findings left unset', (r) => (r.unexpected = { kind: 'unset' }), ['unexpected-findings']],
  ['rule 1: findings chosen but the list is empty', (r) => (r.unexpected = { kind: 'findings', items: [] }), ['unexpected-findings']],
  ['rule 1: a finding without description', (r) => { r.unexpected = { kind: 'findings', items: [f('significant', '  ')] }; r.alertCode = 'significant'; }, ['unexpected-findings']],
  ['rule 1: a finding without category', (r) => (r.unexpected = { kind: 'findings', items: [f(null)] }), ['unexpected-findings']],
  ['rule 1: attested none is signable', (r) => (r.unexpected = { kind: 'none' }), []],
  ['rule 1: a categorised finding is signable', (r) => { r.unexpected = { kind: 'findings', items: [f('significant', 'Pancreatic lesion')] }; r.alertCode = 'significant'; }, []],
  // Rule 2: explicit alert code, at least as severe as the worst finding.
  ['rule 2: no alert code chosen', (r) => (r.alertCode = null), ['alert-code']],
  ['rule 2: alert none with a significant finding', (r) => { r.unexpected = { kind: 'findings', items: [f('significant')] }; r.alertCode = 'none'; }, ['alert-code']],
  ['rule 2: alert significant with an urgent finding', (r) => { r.unexpected = { kind: 'findings', items: [f('urgent')] }; r.alertCode = 'significant'; }, ['alert-code']],
  ['rule 2: alert urgent with a critical finding', (r) => { r.unexpected = { kind: 'findings', items: [f('critical')] }; r.alertCode = 'urgent'; }, ['alert-code']],
  ['rule 2: alert more severe than the finding is fine', (r) => { r.unexpected = { kind: 'findings', items: [f('significant')] }; r.alertCode = 'urgent'; }, []],
  ['rule 2: worst of several findings counts', (r) => { r.unexpected = { kind: 'findings', items: [f('significant'), f('urgent')] }; r.alertCode = 'significant'; }, ['alert-code']],
  // Rule 3: critical needs the verbal communication record.
  ['rule 3: critical without verbal record', (r) => (r.alertCode = 'critical'), ['critical-verbal']],
  ['rule 3: critical with partial verbal record', (r) => { r.alertCode = 'critical'; r.verbal = { clinician: 'Dr Who', role: '', time: '2026-11-22T09:00Z' }; }, ['critical-verbal']],
  ['rule 3: critical with full verbal record', (r) => { r.alertCode = 'critical'; r.verbal = { clinician: 'Dr Who', role: 'ED registrar', time: '2026-11-22T09:00Z' }; }, []],
  // Rule 4: cancer needs the suspected primary site.
  ['rule 4: cancer alert without primary site', (r) => (r.alertCode = 'cancer'), ['cancer-site']],
  ['rule 4: cancer alert with primary site', (r) => { r.alertCode = 'cancer'; r.cancerPrimarySite = 'pancreas'; }, []],
  ['rule 4: cancer finding without primary site', (r) => { r.unexpected = { kind: 'findings', items: [f('cancer', 'Mass')] }; r.alertCode = 'cancer'; r.cancerPrimarySite = 'pancreas'; }, ['cancer-site']],
  ['rule 4: cancer finding with primary site', (r) => { r.unexpected = { kind: 'findings', items: [f('cancer', 'Mass', 'pancreas')] }; r.alertCode = 'cancer'; r.cancerPrimarySite = 'pancreas'; }, []],
  // Rule 5: comparison filled.
  ['rule 5: comparison unset', (r) => (r.comparison = { kind: 'unset', text: '' }), ['comparison']],
  ['rule 5: compared but no prior named', (r) => (r.comparison = { kind: 'compared', text: ' ' }), ['comparison']],
  ['rule 5: compared with a named prior', (r) => (r.comparison = { kind: 'compared', text: 'CT head 2023-03-15' }), []],
  // Rule 6: conclusion not empty.
  ['rule 6: conclusion empty', (r) => (r.fields['conclusion'] = '   '), ['conclusion']],
  ['rule 6: conclusion missing', (r) => delete r.fields['conclusion'], ['conclusion']],
  // Template fields: prohibit blocks, warn does not.
  ['template: a prohibit field empty blocks', (r) => (r.fields['brainParenchyma'] = ''), ['template-field']],
  ['template: a warn field empty does not block', (r) => (r.fields['ventricles'] = ''), []],
  ['everything missing at once', (r) => {
    r.unexpected = { kind: 'unset' }; r.alertCode = null; r.comparison = { kind: 'unset', text: '' }; r.fields = {};
  }, ['unexpected-findings', 'alert-code', 'comparison', 'conclusion', 'template-field']],
];

describe('sign-off rules (domain.md §3)', () => {
  it.each(rows)('%s', (_name, change, expected) => {
    const r = complete();
    change(r);
    const problems = checkSignOff(r, undefined, { signedAt: '2026-11-22T10:00:00.000Z' });
    const blocking = [...new Set(problems.filter((p) => p.severity === 'block').map((p) => p.rule))].sort();
    expect(blocking).toEqual([...expected].sort());
    expect(canSign(problems)).toBe(expected.length === 0);
  });

  it('ties each problem to a section of the template, with a message', () => {
    const r = complete();
    r.unexpected = { kind: 'unset' };
    r.alertCode = null;
    r.fields['conclusion'] = '';
    const template = getTemplate('ct-head');
    const sectionIds = new Set(template.sections.map((s) => s.id));
    for (const p of checkSignOff(r)) {
      expect(sectionIds.has(p.sectionId)).toBe(true);
      expect(p.message.length).toBeGreaterThan(10);
    }
    const bySection = Object.fromEntries(checkSignOff(r).map((p) => [p.rule, p.sectionId]));
    expect(bySection).toMatchObject({ 'unexpected-findings': 'unexpected', 'alert-code': 'alert', conclusion: 'conclusion' });
  });

  it('warns (without blocking) on empty warn fields', () => {
    const r = complete();
    r.fields['ventricles'] = '';
    const warn = checkSignOff(r).filter((p) => p.severity === 'warn');
    expect(warn.map((p) => p.fieldId)).toEqual(['ventricles']);
  });
});

// ---- issue 7 finding 3: invisible text counted as written --------------------------------------

const ZW = '\u200B\u200B\u200B';
const invisibleRows: [field: string, change: (r: ReportContent, text: string) => void, rule: SignOffRule, fieldId: string][] = [
  ['the conclusion', (r, t) => (r.fields['conclusion'] = t), 'conclusion', 'conclusion'],
  ['a required template field', (r, t) => (r.fields['brainParenchyma'] = t), 'template-field', 'brainParenchyma'],
  ['the comparison text', (r, t) => (r.comparison = { kind: 'compared', text: t }), 'comparison', 'comparison'],
  ['an unexpected finding\'s text', (r, t) => { r.unexpected = { kind: 'findings', items: [{ id: 'u1', text: t, category: 'significant' }] }; r.alertCode = 'significant'; }, 'unexpected-findings', 'unexpected.u1.text'],
  ['a cancer finding\'s primary site', (r, t) => { r.unexpected = { kind: 'findings', items: [{ id: 'u1', text: 'Mass', category: 'cancer', primarySite: t }] }; r.alertCode = 'cancer'; r.cancerPrimarySite = 'pancreas'; }, 'cancer-site', 'unexpected.u1.primarySite'],
  ['the cancer alert\'s primary site', (r, t) => { r.alertCode = 'cancer'; r.cancerPrimarySite = t; }, 'cancer-site', 'cancerPrimarySite'],
  ['the verbal record\'s clinician', (r, t) => { r.alertCode = 'critical'; r.verbal = { clinician: t, role: 'ED registrar', time: '2026-11-22T09:00Z' }; }, 'critical-verbal', 'verbal'],
  ['the verbal record\'s role', (r, t) => { r.alertCode = 'critical'; r.verbal = { clinician: 'Dr Who', role: t, time: '2026-11-22T09:00Z' }; }, 'critical-verbal', 'verbal'],
];

describe('issue 7 finding 3: text that shows nothing is not written (was signable before issue 7)', () => {
  const texts: [string, string][] = [['zero-width spaces', ZW], ['a full stop', '.'], ['a BOM and an em dash', '\uFEFF—'], ['an emoji', '👍']];
  for (const [textName, text] of texts) {
    it.each(invisibleRows)(`%s of ${textName} blocks signing`, (_field, change, rule, fieldId) => {
      const r = complete();
      change(r, text);
      const problems = checkSignOff(r, undefined, { signedAt: '2026-11-22T10:00:00.000Z' });
      expect(canSign(problems)).toBe(false);
      const p = problems.find((x) => x.severity === 'block' && x.fieldId === fieldId);
      expect(p?.rule).toBe(rule);
      expect(p?.message).toMatch(/do not count as text/);
    });
  }

  it('the same fields with real words (any script) are signable', () => {
    const r = complete();
    r.fields['conclusion'] = '\u200B異常なし\u200B';
    r.fields['brainParenchyma'] = 'طبيعي';
    r.comparison = { kind: 'compared', text: 'CT 2025' };
    r.alertCode = 'critical';
    r.verbal = { clinician: 'Dr Ψ', role: 'FY2', time: '2026-11-22T09:00Z' };
    expect(checkSignOff(r, undefined, { signedAt: '2026-11-22T10:00:00.000Z' })).toEqual([]);
  });

  it('a warn field of only invisible characters warns like an empty one', () => {
    const r = complete();
    r.fields['ventricles'] = ZW;
    const warn = checkSignOff(r).filter((p) => p.severity === 'warn');
    expect(warn.map((p) => p.fieldId)).toEqual(['ventricles']);
  });
});

// ---- issue 7 finding 4: the verbal-communication time ------------------------------------------

const exam = (studyDate: string, studyTime = ''): ExamDetails => ({
  patientName: 'Doe^Jane', birthDate: '19700101', sex: 'F', accession: 'A1', modality: 'CT', studyDescription: 'CT head',
  studyDate, studyTime, referringPhysician: 'Dr Ref', requestingService: '',
});

function critical(time: string): ReportContent {
  const r = complete();
  r.alertCode = 'critical';
  r.verbal = { clinician: 'Dr Who', role: 'ED registrar', time };
  return r;
}

const verbalMessages = (time: string, context: SignOffContext): string[] =>
  checkSignOff(critical(time), undefined, context).filter((p) => p.rule === 'critical-verbal').map((p) => p.message);

describe('issue 7 finding 4: the verbal-communication time is a real time between the study and the signature', () => {
  const signedAt = '2026-11-22T10:00:00.000Z';
  const withStudy: SignOffContext = { signedAt, exam: exam('20261122', '083000') };

  it.each([
    ['"banana" (was signed and accepted by the hub before issue 7)', 'banana', /not a date and time/],
    ['1900 (was accepted by the editor before issue 7)', '1900-01-01T09:00:00.000Z', /before the study was performed \(22 Nov 2026\)/],
    ['2099 (was accepted by the editor before issue 7)', '2099-01-01T09:00:00.000Z', /after the report is signed/],
    ['a day that does not exist', '2026-02-30T09:00Z', /not a date and time/],
    ['an hour that does not exist', '2026-11-22T25:00Z', /not a date and time/],
    ['no time zone (ambiguous between workstation and hub)', '2026-11-22T09:00', /time zone/],
    ['a date without a time', '2026-11-22', /not a date and time/],
    ['an offset beyond ±14 h', '2026-11-22T09:00+15:00', /not a date and time/],
    ['6 minutes after the signature (beyond the 5-minute clock skew)', '2026-11-22T10:06:00.000Z', /after the report is signed/],
    ['the day before the study, whatever the time zone', '2026-11-21T08:00:00.000Z', /before the study/],
    ['empty', '', /Give the time/],
  ])('refuses %s', (_name, time, message) => {
    const messages = verbalMessages(time, withStudy);
    expect(messages.some((m) => message.test(m))).toBe(true);
  });

  it.each([
    ['between the study and the signature', '2026-11-22T09:15:00.000Z'],
    ['with an offset', '2026-11-22T10:15+01:00'],
    ['up to 5 minutes after the signature (clock skew)', '2026-11-22T10:04:59.000Z'],
    ['on the study date in a time zone ahead of UTC (study time read at UTC+14)', '2026-11-21T19:00:00.000Z'],
  ])('accepts a time %s', (_name, time) => {
    expect(verbalMessages(time, withStudy)).toEqual([]);
  });

  it('without a study date: at most 7 days before the signature', () => {
    const noDate: SignOffContext = { signedAt, exam: exam('') };
    expect(verbalMessages('2026-11-16T09:00:00.000Z', noDate)).toEqual([]);
    expect(verbalMessages('2026-11-14T09:00:00.000Z', noDate)[0]).toMatch(/more than 7 days before signing/);
    expect(verbalMessages('1900-01-01T09:00:00.000Z', { signedAt })[0]).toMatch(/more than 7 days before signing/);
  });

  it('without a signature time given, "now" is the signature time (the editor\'s live check)', () => {
    const future = new Date(Date.now() + 60 * 60_000).toISOString();
    expect(verbalMessages(future, {})[0]).toMatch(/after the report is signed/);
    expect(verbalMessages(new Date().toISOString(), {})).toEqual([]);
  });

  it('a verbal record signed under another alert code is held to the same rule', () => {
    const r = critical('banana');
    r.alertCode = 'urgent';
    expect(checkSignOff(r, undefined, { signedAt }).map((p) => p.rule)).toContain('critical-verbal');
  });

  it('parseIsoDateTime reads only full ISO date-times with a zone', () => {
    expect(parseIsoDateTime('2026-11-22T10:15+01:00')?.toISOString()).toBe('2026-11-22T09:15:00.000Z');
    expect(parseIsoDateTime('2024-02-29T00:00:00Z')?.toISOString()).toBe('2024-02-29T00:00:00.000Z');
    expect(parseIsoDateTime('2025-02-29T00:00:00Z')).toBeNull();
    expect(parseIsoDateTime('Sat Nov 22 2026 10:00:00 GMT')).toBeNull();
    expect(VERBAL_CLOCK_SKEW_MS).toBe(300_000);
  });
});

// ---- issue 7 finding 8: alert consistency ------------------------------------------------------

describe('issue 7 finding 8: a cancer finding puts the report on the cancer pathway whatever the alert code', () => {
  it('a cancer finding under an "urgent" alert is signable and on the cancer pathway (before issue 7 only the alert code said cancer)', () => {
    const r = complete();
    r.unexpected = { kind: 'findings', items: [{ id: 'u1', text: 'Spiculated mass', category: 'cancer', primarySite: 'lung' }] };
    r.alertCode = 'urgent';
    expect(checkSignOff(r)).toEqual([]);
    expect(r.alertCode).not.toBe('cancer');
    expect(cancerPathway(r)).toBe(true);
    expect(cancerPrimarySites(r)).toEqual(['lung']);
  });
  it.each([
    ['a cancer alert', (r: ReportContent) => { r.alertCode = 'cancer'; r.cancerPrimarySite = 'pancreas'; }, true],
    ['a cancer finding under a critical alert', (r: ReportContent) => { r.alertCode = 'critical'; r.unexpected = { kind: 'findings', items: [{ id: 'u', text: 'Mass', category: 'cancer', primarySite: 'kidney' }] }; }, true],
    ['only significant findings', (r: ReportContent) => { r.alertCode = 'significant'; r.unexpected = { kind: 'findings', items: [{ id: 'u', text: 'Cyst', category: 'significant' }] }; }, false],
    ['no findings and no alert', () => {}, false],
  ])('%s: cancer pathway %s', (_name, change, expected) => {
    const r = complete();
    change(r);
    expect(cancerPathway(r)).toBe(expected);
  });
});

describe('issue 7 finding 8: "No prior imaging available" while a prior of the same identity is in the library', () => {
  const none = (reason?: string): ReportContent => {
    const r = complete();
    r.comparison = { kind: 'none-available', text: '', ...(reason !== undefined ? { noPriorReason: reason } : {}) };
    return r;
  };
  it('blocks signing when the library holds a prior (was signable before issue 7)', () => {
    const problems = checkSignOff(none(), undefined, { priorsInLibrary: 2 });
    expect(canSign(problems)).toBe(false);
    expect(problems[0]).toMatchObject({ rule: 'comparison', fieldId: 'comparison.noPriorReason' });
    expect(problems[0]!.message).toMatch(/2 earlier studies of this patient are in the library/);
  });
  it('a reason that says nothing does not override', () => {
    expect(canSign(checkSignOff(none('\u200B.'), undefined, { priorsInLibrary: 1 }))).toBe(false);
  });
  it('a meaningful reason overrides (and is part of the signed content)', () => {
    const r = none('The prior is a CT of the ankle');
    expect(checkSignOff(r, undefined, { priorsInLibrary: 1 })).toEqual([]);
    expect(r.comparison.noPriorReason).toBe('The prior is a CT of the ankle');
  });
  it('no prior in the library, or no library (the hub): no reason needed', () => {
    expect(checkSignOff(none(), undefined, { priorsInLibrary: 0 })).toEqual([]);
    expect(checkSignOff(none())).toEqual([]);
  });
});
