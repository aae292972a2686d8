import { describe, expect, it } from 'vitest';
import { getTemplate, newReportFor } from '../../common/templates.ts';
import { addPriorToComparison, emptyFinding, hasReporterContent } from '../../renderer/report/draftState.ts';

describe('hasReporterContent (whether leaving a draft deserves a question)', () => {
  const t = getTemplate('ct-head');
  const fresh = newReportFor(t, 'Headache, ?bleed');

  it('a fresh draft with template defaults and the request text holds no work', () => {
    expect(hasReporterContent(fresh, t)).toBe(false);
  });

  it.each([
    ['a findings field', { ...fresh, fields: { ...fresh.fields, brainParenchyma: 'Normal.' } }],
    ['an edited default', { ...fresh, fields: { ...fresh.fields, technique: 'Contrast-enhanced CT.' } }],
    ['the comparison choice', { ...fresh, comparison: { kind: 'none-available' as const, text: '' } }],
    ['the unexpected-findings attestation', { ...fresh, unexpected: { kind: 'none' as const } }],
    ['an alert code', { ...fresh, alertCode: 'none' as const }],
  ])('counts %s as work', (_name, content) => {
    expect(hasReporterContent(content, t)).toBe(true);
  });

  it('ignores whitespace-only text', () => {
    expect(hasReporterContent({ ...fresh, fields: { ...fresh.fields, conclusion: '  \n' } }, t)).toBe(false);
  });
});

describe('comparison quick fill', () => {
  it('appends each prior once', () => {
    const a = addPriorToComparison('', 'CT head of 1 Jan 2020');
    expect(a).toBe('CT head of 1 Jan 2020');
    const b = addPriorToComparison(a, 'CT head of 2 Feb 2021');
    expect(b).toBe('CT head of 1 Jan 2020; CT head of 2 Feb 2021');
    expect(addPriorToComparison(b, 'CT head of 2 Feb 2021')).toBe(b);
  });

  it('new findings get distinct ids and no category', () => {
    const a = emptyFinding();
    const b = emptyFinding();
    expect(a.id).not.toBe(b.id);
    expect(a.category).toBeNull();
  });
});
