// The editor's controls for issue 7 findings 3, 4 and 8, rendered (react-dom/server) with the
// problems checkSignOff gives them: the reason asked for beside "No prior imaging available" when
// the library holds a prior; the verbal-communication time's problems beside it, with a Now
// button; a cancer finding said to put the report on the cancer pathway, in the editor and in the
// signed view, whatever the alert code; invisible text reported as not counting.
import { createElement, type ReactElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { StudySummary } from '../../common/contract.ts';
import type { ReportContent } from '../../common/report.ts';
import { checkSignOff, type SignOffContext } from '../../common/signoff.ts';
import { getTemplate } from '../../common/templates.ts';
import { AlertEditor, ComparisonEditor, UnexpectedEditor } from '../../renderer/report/fields.tsx';
import { ReportContentView } from '../../renderer/report/ReportContentView.tsx';
import { signableContent } from '../support/reportFixtures.ts';

const text = (el: ReactElement): string =>
  renderToStaticMarkup(el).replace(/<[^>]+>/g, ' ').replace(/&quot;/g, '"').replace(/&#x27;|&#39;/g, "'").replace(/\s+/g, ' ');
const noUpdate = () => undefined;
const problemsOf = (c: ReportContent, context: SignOffContext = {}) => checkSignOff(c, getTemplate(c.templateId), context);

const prior: StudySummary = {
  studyUid: '1.2.3.4', patientId: 'P1', patientName: 'DOE^JANE', identityConflict: null, studyDate: '20230315',
  description: 'CT HEAD', accession: 'A0', modalities: ['CT'], series: [],
};

describe('"No prior imaging available" with a prior in the library', () => {
  const none: ReportContent = { ...signableContent(), comparison: { kind: 'none-available', text: '' } };

  it('asks why none can be used, and says it blocks signing', () => {
    const problems = problemsOf(none, { priorsInLibrary: 1 });
    const html = renderToStaticMarkup(createElement(ComparisonEditor, { content: none, update: noUpdate, problems, priors: [prior] }));
    expect(html).toMatch(/<label for="field-comparison\.noPriorReason">Why none of the 1 prior study of this patient in the library can be used<\/label>/);
    expect(html).toMatch(/id="field-comparison\.noPriorReason"[^>]*aria-invalid="true"/);
    expect(text(createElement(ComparisonEditor, { content: none, update: noUpdate, problems, priors: [prior] })))
      .toContain('Blocks signing: "No prior imaging available", but 1 earlier study of this patient is in the library');
  });

  it('with a reason given, nothing blocks and the signed view shows the reason', () => {
    const given: ReportContent = { ...none, comparison: { kind: 'none-available', text: '', noPriorReason: 'Prior is an MR of the spine.' } };
    expect(problemsOf(given, { priorsInLibrary: 1 })).toEqual([]);
    expect(text(createElement(ReportContentView, { content: given }))).toContain('Prior is an MR of the spine.');
  });

  it('without priors in the library there is no reason field', () => {
    const html = renderToStaticMarkup(createElement(ComparisonEditor, { content: none, update: noUpdate, problems: problemsOf(none), priors: [] }));
    expect(html).not.toContain('noPriorReason');
  });
});

describe('the verbal-communication record', () => {
  it('shows the time problem beside the record, with a Now button', () => {
    const c: ReportContent = { ...signableContent(), alertCode: 'critical', verbal: { clinician: '\u200B', role: 'ED registrar', time: '2099-01-01T09:00:00.000Z' } };
    const t = text(createElement(AlertEditor, { content: c, update: noUpdate, problems: problemsOf(c) }));
    expect(t).toContain('Now');
    expect(t).toMatch(/Blocks signing: Name the clinician the finding was communicated to \(spaces, punctuation, symbols or invisible characters alone do not count as text\)/);
    expect(t).toMatch(/Blocks signing: The verbal communication is recorded at .*2099.*, after the report is signed: correct the time\./);
  });
});

describe('a cancer finding and the cancer pathway', () => {
  const c: ReportContent = {
    ...signableContent(),
    unexpected: { kind: 'findings', items: [{ id: 'k1', text: 'Spiculated mass, right upper lobe.', category: 'cancer', primarySite: 'Lung' }] },
    alertCode: 'urgent',
  };
  it('the editor says the report goes on the cancer pathway whatever the alert code', () => {
    expect(text(createElement(UnexpectedEditor, { content: c, update: noUpdate, problems: problemsOf(c) }))).toContain('cancer pathway whatever alert code is chosen');
  });
  it('the signed view says it is on the cancer pathway although the alert code is urgent', () => {
    const t = text(createElement(ReportContentView, { content: c }));
    expect(t).toContain('Urgent');
    expect(t).toContain('On the cancer pathway: an unexpected finding is a suspected cancer');
  });
  it('a report without a cancer finding says nothing of the pathway', () => {
    expect(text(createElement(ReportContentView, { content: signableContent() }))).not.toContain('cancer pathway');
  });
});
