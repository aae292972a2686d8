// Hazard "finding lost when the template is switched", in the editor: the question asked before a
// switch that would move text (and only then), and the carried-over text shown, labelled and
// editable in the draft (rendered with react-dom/server and a stand-in client, as the
// workstation renders it). Leaving a draft whose only text is carried counts as unsigned work.
import { createElement, type ReactElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { FailsafeApi } from '../../common/contract.ts';
import type { Profile, Report, ReportContent } from '../../common/report.ts';
import { CARRIED_OVER_TITLE, getTemplate, newReportFor, switchTemplate } from '../../common/templates.ts';
import type { Client } from '../../renderer/api.ts';
import { ClientContext } from '../../renderer/data/client.ts';
import { DraftEditor } from '../../renderer/report/DraftEditor.tsx';
import { hasReporterContent, movesOnSwitch, switchQuestion } from '../../renderer/report/draftState.ts';
import { TemplateSwitchDialog } from '../../renderer/report/TemplateSwitch.tsx';

const api = new Proxy({} as FailsafeApi, { get: () => () => new Promise(() => undefined) });
const client: Client = { api, events: null, transport: 'http', callKeepalive: () => new Promise(() => undefined) };
const html = (el: ReactElement): string => renderToStaticMarkup(createElement(ClientContext, { value: client }, el));
const text = (el: ReactElement): string =>
  html(el)
    .replace(/<[^>]+>/g, ' ')
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');

const RADIOLOGIST: Profile = { name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567' };
const mr = getTemplate('mr-brain');
const generic = getTemplate('generic');
const typed: ReportContent = {
  ...newReportFor(mr),
  fields: { ...newReportFor(mr).fields, brainParenchyma: 'Small chronic infarct, left cerebellum.', ventricles: 'Normal.', conclusion: 'Old infarct.' },
};

describe('asking before a switch that moves text', () => {
  it('names how many fields move, and which; nothing to ask when nothing moves', () => {
    const moved = movesOnSwitch(typed, generic);
    expect(moved.map((m) => m.label)).toEqual(['Brain parenchyma', 'Ventricles and extra-axial spaces']);
    expect(switchQuestion(moved)).toBe(`2 fields will move to "${CARRIED_OVER_TITLE}".`);
    expect(switchQuestion(moved.slice(0, 1))).toBe(`1 field will move to "${CARRIED_OVER_TITLE}".`);
    // MR brain → CT head: both have these fields, nothing moves, so nobody is asked.
    expect(movesOnSwitch(typed, getTemplate('ct-head'))).toEqual([]);
    // An untouched new report moves nothing either (its default technique is the template's own).
    expect(movesOnSwitch(newReportFor(mr), generic)).toEqual([]);

    const dialog = text(createElement(TemplateSwitchDialog, { pending: { to: generic, moved }, from: mr, onConfirm: () => undefined, onCancel: () => undefined }));
    expect(dialog).toContain(`2 fields will move to "${CARRIED_OVER_TITLE}"`);
    expect(dialog).toContain('Brain parenchyma (MR brain)');
    expect(dialog).toContain('Ventricles and extra-axial spaces (MR brain)');
    expect(dialog).toContain('Switch to Generic report');
    expect(dialog).toContain('Cancel (keep MR brain)');
    expect(html(createElement(TemplateSwitchDialog, { pending: null, from: mr, onConfirm: () => undefined, onCancel: () => undefined }))).toBe('');
  });
});

describe('the carried-over text in the draft', () => {
  const switched = switchTemplate(typed, generic).content;
  const report: Report = {
    id: 'r1',
    study: { patientId: 'P1', studyUid: '1.2.3' },
    exam: null,
    state: 'draft',
    content: switched,
    revision: 2,
    createdAt: '2025-03-01T09:00:00Z',
    updatedAt: '2025-03-01T09:05:00Z',
    author: RADIOLOGIST.name,
    signatures: [],
    addenda: [],
  };
  const editor = () =>
    createElement(DraftEditor, { report, priors: [], profile: RADIOLOGIST, register: () => undefined, onSigned: () => undefined, onChangeTemplate: () => undefined, onReload: () => undefined });

  it('is shown under its heading, each piece labelled with its old field and template, in an editable box', () => {
    const markup = html(editor());
    const t = text(editor());
    expect(t).toContain(CARRIED_OVER_TITLE);
    expect(t).toContain('Brain parenchyma (from MR brain)');
    expect(t).toContain('Ventricles and extra-axial spaces (from MR brain)');
    expect(markup).toMatch(/<textarea[^>]*id="field-carried-0"[^>]*>Small chronic infarct, left cerebellum\.<\/textarea>/);
    expect(markup).toMatch(/<textarea[^>]*id="field-carried-1"[^>]*>Normal\.<\/textarea>/);
    // The reporter is asked to check it before signing, and Generic's own Findings still blocks.
    expect(t).toContain(`2 pieces of "${CARRIED_OVER_TITLE}" will be signed and shown with the report`);
    expect(t).toMatch(/Findings is empty/);
  });

  it('offers to remove a piece only once it is emptied (nothing written is removed)', () => {
    expect(html(editor())).not.toContain('Remove this empty piece');
    const emptied = { ...report, content: { ...switched, carriedOver: switched.carriedOver!.map((p, i) => (i === 1 ? { ...p, text: ' ' } : p)) } };
    const markup = html(createElement(DraftEditor, { report: emptied, priors: [], profile: RADIOLOGIST, register: () => undefined, onSigned: () => undefined, onChangeTemplate: () => undefined, onReload: () => undefined }));
    expect(markup).toContain('data-testid="carried-remove-1"');
    expect(markup).not.toContain('data-testid="carried-remove-0"');
  });

  it('counts as the reporter\'s work (leaving the draft asks first)', () => {
    const onlyCarried = switchTemplate({ ...newReportFor(mr), fields: { ...newReportFor(mr).fields, vessels: 'Normal flow voids.' } }, generic).content;
    expect(onlyCarried.carriedOver).toHaveLength(1);
    expect(hasReporterContent(onlyCarried, generic)).toBe(true);
  });
});
