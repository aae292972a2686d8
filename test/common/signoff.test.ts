// The sign-off rules of domain.md §3, table-driven: each row is a report and the rules it must
// (or must not) break.
import { describe, expect, it } from 'vitest';
import { checkSignOff, canSign, type SignOffRule } from '../../common/signoff.ts';
import type { ReportContent } from '../../common/report.ts';
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
  ['rule 3: critical with partial verbal record', (r) => { r.alertCode = 'critical'; r.verbal = { clinician: 'Dr Who', role: '', time: '2026-11-22T09:00' }; }, ['critical-verbal']],
  ['rule 3: critical with full verbal record', (r) => { r.alertCode = 'critical'; r.verbal = { clinician: 'Dr Who', role: 'ED registrar', time: '2026-11-22T09:00' }; }, []],
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
    const problems = checkSignOff(r);
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
