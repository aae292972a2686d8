// Hazard "finding lost when the template is switched" (issue 7 finding 2, acceptance line 2), the
// pure rule: switching templates keeps every written field (same id), carries the rest into
// "Other text from the previous template" labelled with the old field and template, never lets
// carried text satisfy a required field of the new template, and switching back and forth (every
// pair, every chain of three) neither loses nor duplicates text.
import { describe, expect, it } from 'vitest';
import type { ReportContent } from '../../common/report.ts';
import { checkSignOff } from '../../common/signoff.ts';
import { getTemplate, hiddenFieldIds, newReportFor, switchTemplate, textFieldsOf, TEMPLATES, type Template } from '../../common/templates.ts';

const PAIRS = TEMPLATES.flatMap((a) => TEMPLATES.filter((b) => b.id !== a.id).map((b) => [a, b] as const));

/** A report of `t` with every text field written with distinct text. */
function filled(t: Template): ReportContent {
  const c = newReportFor(t);
  for (const f of textFieldsOf(t)) c.fields[f.id] = `${t.id}/${f.id}: written by the reporter`;
  return c;
}

/** Every written text of the content, fields and carried pieces together. */
const texts = (c: ReportContent): string[] => [...Object.values(c.fields), ...(c.carriedOver ?? []).map((p) => p.text)].filter((s) => s.trim() !== '').sort();

describe('switching templates keeps everything written', () => {
  it.each(PAIRS.map(([a, b]) => [a.id, b.id]))('%s → %s: shared fields keep their text, the rest is carried, labelled, once', (aId, bId) => {
    const a = getTemplate(aId);
    const b = getTemplate(bId);
    const before = filled(a);
    const { content, moved } = switchTemplate(before, b);
    const bIds = new Set(textFieldsOf(b).map((f) => f.id));
    expect(content.templateId).toBe(b.id);
    expect(texts(content)).toEqual(texts(before));
    for (const f of textFieldsOf(a)) {
      if (bIds.has(f.id)) {
        expect(content.fields[f.id]).toBe(before.fields[f.id]);
      } else {
        expect(content.fields[f.id]).toBeUndefined();
        expect(content.carriedOver).toContainEqual({ fieldId: f.id, label: f.label, templateId: a.id, templateTitle: a.title, text: before.fields[f.id] });
      }
    }
    expect(moved.map((m) => m.fieldId)).toEqual(textFieldsOf(a).filter((f) => !bIds.has(f.id)).map((f) => f.id));
    expect(hiddenFieldIds(content, b)).toEqual([]);
    // Carried text never satisfies a field of the new template: B's empty required fields still block.
    const blocked = checkSignOff(content, b).filter((p) => p.severity === 'block' && p.rule === 'template-field').map((p) => p.fieldId);
    for (const f of textFieldsOf(b)) if (f.onEmpty === 'prohibit' && !(f.id in before.fields)) expect(blocked).toContain(f.id);
  });

  it.each(PAIRS.map(([a, b]) => [a.id, b.id]))('%s → %s → %s gives back exactly what was written', (aId, bId) => {
    const before = filled(getTemplate(aId));
    const there = switchTemplate(before, getTemplate(bId));
    const back = switchTemplate(there.content, getTemplate(aId));
    expect(back.content).toEqual(before);
    expect(back.content.carriedOver).toBeUndefined();
    expect(back.moved).toEqual([]);
    expect(back.restored).toEqual(there.moved);
  });

  it('any chain of three switches loses and duplicates nothing, and returning gives back the text', () => {
    for (const a of TEMPLATES) {
      for (const b of TEMPLATES) {
        for (const c of TEMPLATES) {
          const before = filled(a);
          const viaB = switchTemplate(before, b).content;
          const viaC = switchTemplate(viaB, c).content;
          expect(texts(viaC)).toEqual(texts(before));
          expect(switchTemplate(viaC, a).content).toEqual(before);
        }
      }
    }
  });

  it('text written in the carried section while on B goes back into its field on return, edited', () => {
    const mr = getTemplate('mr-brain');
    const generic = getTemplate('generic');
    const before = { ...newReportFor(mr), fields: { ...newReportFor(mr).fields, brainParenchyma: 'Small old infarct, left cerebellum.' } };
    const there = switchTemplate(before, generic).content;
    expect(there.carriedOver).toEqual([{ fieldId: 'brainParenchyma', label: 'Brain parenchyma', templateId: 'mr-brain', templateTitle: 'MR brain', text: 'Small old infarct, left cerebellum.' }]);
    // Generic's Findings stays empty, so it still blocks signing: carried text does not count for it.
    expect(there.fields['findings']).toBeUndefined();
    expect(checkSignOff(there, generic).some((p) => p.fieldId === 'findings' && p.severity === 'block')).toBe(true);
    const edited = { ...there, carriedOver: there.carriedOver!.map((p) => ({ ...p, text: `${p.text} Unchanged from 2023.` })) };
    const back = switchTemplate(edited, mr);
    expect(back.content.fields['brainParenchyma']).toBe('Small old infarct, left cerebellum. Unchanged from 2023.');
    expect(back.content.carriedOver).toBeUndefined();
  });

  it('a field the new template has but already written keeps both texts: the carried piece stays carried', () => {
    const chest = getTemplate('ct-chest');
    const cxr = getTemplate('cxr');
    const generic = getTemplate('generic');
    const start = { ...newReportFor(chest), fields: { ...newReportFor(chest).fields, lungs: 'Chest CT lungs text.' } };
    const g = switchTemplate(start, generic).content;
    const x = switchTemplate({ ...g, templateId: 'generic' }, cxr).content;
    expect(x.fields['lungs']).toBe('Chest CT lungs text.');
    // Now written on CXR too, then via generic back to CT chest: nothing dropped, nothing twice.
    const cxrWritten = { ...x, fields: { ...x.fields, lines: 'NG tube in the stomach.' } };
    const back = switchTemplate(switchTemplate(cxrWritten, generic).content, chest).content;
    expect(back.fields['lungs']).toBe('Chest CT lungs text.');
    expect(back.carriedOver).toEqual([expect.objectContaining({ fieldId: 'lines', label: 'Lines and tubes', templateTitle: cxr.title, text: 'NG tube in the stomach.' })]);
    expect(texts(back)).toEqual(['Chest CT lungs text.', 'NG tube in the stomach.', ...Object.values(newReportFor(chest).fields)].filter((s) => s.trim() !== '').sort());
  });

  it("the old template's untouched default technique becomes the new one's; a written technique is kept", () => {
    const mr = getTemplate('mr-brain');
    const ct = getTemplate('ct-head');
    expect(switchTemplate(newReportFor(mr), ct).content.fields['technique']).toBe(newReportFor(ct).fields['technique']);
    expect(switchTemplate(newReportFor(mr), ct).moved).toEqual([]);
    const written = { ...newReportFor(mr), fields: { technique: 'MR with gadolinium.' } };
    expect(switchTemplate(written, ct).content.fields['technique']).toBe('MR with gadolinium.');
  });

  it('empty fields are not carried; whitespace-only carried pieces are dropped, anything else is kept', () => {
    const mr = getTemplate('mr-brain');
    const generic = getTemplate('generic');
    const c = { ...newReportFor(mr), fields: { brainParenchyma: '   ', ventricles: '.', vessels: '' } };
    const { content, moved } = switchTemplate(c, generic);
    expect(moved.map((m) => m.fieldId)).toEqual(['ventricles']);
    expect(content.carriedOver?.map((p) => p.text)).toEqual(['.']);
  });

  it('switching to the same template moves text the template does not lay out (left by older versions) into the carried section', () => {
    const generic = getTemplate('generic');
    const legacy: ReportContent = { ...newReportFor(generic), fields: { findings: 'Normal.', brainParenchyma: 'Hidden by the old switch.' } };
    expect(hiddenFieldIds(legacy, generic)).toEqual(['brainParenchyma']);
    const { content, moved } = switchTemplate(legacy, generic);
    expect(content.fields).toEqual({ findings: 'Normal.' });
    expect(moved).toEqual([{ fieldId: 'brainParenchyma', label: 'Brain parenchyma', templateId: 'ct-head', templateTitle: getTemplate('ct-head').title, text: 'Hidden by the old switch.' }]);
    // Such hidden text blocks signing until it is shown.
    expect(checkSignOff(legacy, generic).some((p) => p.severity === 'block' && p.fieldId === 'brainParenchyma')).toBe(true);
  });
});
