import { describe, expect, it } from 'vitest';
import { chooseTemplate, getTemplate, newReportFor, REQUIRED_SECTIONS, TEMPLATES } from '../../common/templates.ts';
import { canonicalJson, severityRank } from '../../common/report.ts';

describe('templates', () => {
  it('has the required templates, each with every section of domain.md §3 in order', () => {
    expect(TEMPLATES.map((t) => t.id).sort()).toEqual(['ct-abdomen-pelvis', 'ct-chest', 'ct-head', 'cxr', 'generic', 'mr-brain']);
    for (const t of TEMPLATES) {
      const ids = t.sections.map((s) => s.id);
      expect(ids.filter((id) => (REQUIRED_SECTIONS as readonly string[]).includes(id))).toEqual([...REQUIRED_SECTIONS]);
      const unexpected = t.sections.find((s) => s.id === 'unexpected')!.fields[0]!;
      expect(unexpected.onEmpty).toBe('prohibit');
    }
  });

  it.each([
    ['CT', 'CT HEAD WITHOUT CONTRAST', 'ct-head'],
    ['CT', 'Cranium', 'ct-head'],
    ['CT', 'CT Chest with contrast', 'ct-chest'],
    ['CT', 'CT ABDOMEN PELVIS', 'ct-abdomen-pelvis'],
    ['CR', 'Chest PA', 'cxr'],
    ['DX', 'CHEST', 'cxr'],
    ['MR', 'MRI BRAIN', 'mr-brain'],
    ['MR', 'Knee', 'generic'],
    ['US', 'Echo', 'generic'],
    ['CT', '', 'generic'],
  ])('chooses %s "%s" → %s', (modality, description, expected) => {
    expect(chooseTemplate(modality, description).id).toBe(expected);
  });

  it('fills template defaults and never pre-chooses the alert code or unexpected findings', () => {
    const r = newReportFor(getTemplate('ct-head'), 'Fall, on warfarin');
    expect(r.fields['technique']).toContain('CT');
    expect(r.fields['clinicalQuestion']).toBe('Fall, on warfarin');
    expect(r.alertCode).toBeNull();
    expect(r.unexpected).toEqual({ kind: 'unset' });
    expect(r.comparison.kind).toBe('unset');
  });

  it('rejects an unknown template id', () => {
    expect(() => getTemplate('nope')).toThrow(/unknown template/);
  });
});

describe('report model', () => {
  it('canonical JSON sorts keys and drops undefined, so equal content hashes equally', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x'], c: undefined } })).toBe('{"a":{"d":[1,"x"]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(() => canonicalJson({ x: Number.NaN })).toThrow();
  });

  it('ranks severity critical > urgent > cancer > significant > none', () => {
    const order = (['none', 'significant', 'cancer', 'urgent', 'critical'] as const).map(severityRank);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });
});
