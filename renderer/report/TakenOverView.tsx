// A draft a colleague took over: read-only, naming the new owner; the text stays to copy.
import type { ReportContent } from '../../common/report.ts';
import { ReportContentView } from './ReportContentView.tsx';
import { ReportHeading } from './ReportHeading.tsx';
import type { TakenOver } from './useDraftSaver.ts';

export function TakenOverView({ reportId, lost, content }: { reportId: string; lost: TakenOver; content: ReportContent }) {
  return (
    <div className="report-pane taken-over" aria-labelledby="report-title">
      <div className="report-toolbar">
        <ReportHeading titleId="report-title" reportId={reportId} status={`Taken over by ${lost.owner} (read-only)`} statusClass="status-taken-over" />
      </div>
      <div className="taken-over-banner" role="alert" data-testid="taken-over-banner">
        <p>
          <strong>{lost.message}</strong>
        </p>
        <p>
          This draft now belongs to <strong>{lost.owner}</strong>: edits here are refused and nothing more is saved. The text below is what you had written
          {lost.unsaved ? ', including changes made just before the take-over that were NOT saved' : ''}. Copy anything you need and tell {lost.owner}.
        </p>
      </div>
      <article className="original" aria-label="Your copy of the draft (read-only)">
        <ReportContentView content={content} />
      </article>
    </div>
  );
}
