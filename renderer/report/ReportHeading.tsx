// The report pane's heading with its state, and the Audit trail button (which opens the trail).
import { useState } from 'react';
import { AuditTrail } from './AuditTrail.tsx';

export function ReportHeading({ titleId, reportId, status, statusClass }: { titleId: string; reportId: string; status: string; statusClass: string }) {
  const [auditOpen, setAuditOpen] = useState(false);
  return (
    <div className="toolbar-row">
      <h2 id={titleId}>
        Report <span className={statusClass}>{status}</span>
      </h2>
      <button type="button" className="small" onClick={() => setAuditOpen(true)}>
        Audit trail
      </button>
      {auditOpen && <AuditTrail reportId={reportId} onClose={() => setAuditOpen(false)} />}
    </div>
  );
}
