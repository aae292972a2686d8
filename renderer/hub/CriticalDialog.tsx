// A critical or urgent report that has not reached the hub in time: the referring team cannot see
// it, so the radiologist must phone the finding through now. Blocking (Escape does not close it):
// it closes when the call is recorded or when the hub confirms delivery.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { HubStatus, ReportListItem } from '../../common/contract.ts';
import { ALERT_LABELS } from '../../common/report.ts';
import { isSigned } from '../../common/lifecycle.ts';
import { useClient } from '../data/client.ts';
import { useAppEvents } from '../data/useAppEvents.ts';
import { fetchStatuses } from './useSyncStatuses.ts';
import { Dialog } from '../Dialog.tsx';
import { isoToLocalInput, localInputToIso } from '../../common/format.ts';
import { formatPersonName } from '../format.ts';
import { ErrorText } from '../ErrorText.tsx';
import { missingMessage } from '../formErrors.ts';
import { useFormAction } from '../useFormAction.ts';
import { SubmitActions } from '../Layout.tsx';

interface Warning {
  reportId: string;
  alertCode: 'critical' | 'urgent' | null;
  message: string;
}

export interface CriticalDialogProps {
  hub: HubStatus | null;
  /** Called after a call is recorded (lists may show it). */
  onRecorded(reportId: string): void;
}

export function CriticalDialog({ hub, onRecorded }: CriticalDialogProps) {
  const client = useClient();
  const [warnings, setWarnings] = useState<Warning[]>([]);
  const [reports, setReports] = useState<ReportListItem[]>([]);
  const configured = hub?.configured === true;

  const add = useCallback((w: Warning) => {
    setWarnings((ws) => (ws.some((x) => x.reportId === w.reportId) ? ws.map((x) => (x.reportId === w.reportId ? { ...x, ...w } : x)) : [...ws, w]));
  }, []);
  const remove = useCallback((reportId: string) => setWarnings((ws) => ws.filter((w) => w.reportId !== reportId)), []);

  // At start: any signed report already overdue (e.g. the app was restarted while offline).
  useEffect(() => {
    if (!configured) return;
    let live = true;
    void (async () => {
      const list = await client.api['reports:list']({});
      if (!live || !list.ok) return;
      setReports(list.value);
      // One request for all of them (not one per report).
      const statuses = await fetchStatuses(client.api, list.value.filter((x) => isSigned(x.state)).map((x) => x.id));
      if (!live || !statuses.ok) return;
      for (const s of statuses.value.filter((x) => x.criticalUndelivered)) {
        add({
          reportId: s.reportId,
          alertCode: null,
          message: 'This report has not reached the hub. Phone the finding to a responsible clinician now, then record the call.',
        });
      }
    })();
    return () => {
      live = false;
    };
  }, [client, configured, add]);

  useAppEvents((e) => {
    if (e.type === 'critical-undelivered') {
      add({ reportId: e.reportId, alertCode: e.alertCode, message: e.message });
      void client.api['reports:list']({}).then((r) => r.ok && setReports(r.value));
    } else if (e.type === 'critical-resolved') remove(e.reportId);
  });

  const current = warnings[0] ?? null;
  return (
    <Dialog open={current !== null} title="Phone this finding through now" onCancel={() => undefined} role="alertdialog" testId="critical-dialog" wide>
      {current && (
        <PhoneForm
          key={current.reportId}
          warning={current}
          report={reports.find((r) => r.id === current.reportId) ?? null}
          more={warnings.length - 1}
          onDone={() => {
            remove(current.reportId);
            onRecorded(current.reportId);
          }}
        />
      )}
    </Dialog>
  );
}

function PhoneForm({ warning, report, more, onDone }: { warning: Warning; report: ReportListItem | null; more: number; onDone(): void }) {
  const [clinician, setClinician] = useState('');
  const [role, setRole] = useState('');
  const [time, setTime] = useState(() => isoToLocalInput(new Date().toISOString()));
  const [note, setNote] = useState('');
  const { busy, error, run } = useFormAction();
  const client = useClient();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const iso = localInputToIso(time);
    const missing = missingMessage([
      [clinician.trim() !== '', 'the clinician you spoke to'],
      [role.trim() !== '', 'their role'],
      [iso !== '', 'the time of the call'],
    ]);
    const input = { reportId: warning.reportId, clinician: clinician.trim(), role: role.trim(), time: iso, ...(note.trim() ? { note: note.trim() } : {}) };
    if (await run(missing, () => client.api['sync:recordPhone'](input), 'The call was not recorded: ')) onDone();
  };

  return (
    <form onSubmit={(e) => void submit(e)} noValidate aria-describedby="critical-message">
      <div id="critical-message" className="critical-message">
        <p>
          <strong>
            {warning.alertCode ? `${ALERT_LABELS[warning.alertCode]} finding` : 'Critical or urgent finding'}
            {report ? ` for ${formatPersonName(report.patientName)} (ID ${report.study.patientId}), ${report.studyDescription || 'study'}` : ''}
          </strong>
          : the signed report has not reached the hub, so the referring team cannot see it.
        </p>
        <p>{warning.message}</p>
        <p>The report stays queued and is still sent when the hub is reachable; recording the call does not replace that.</p>
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor="phone-clinician">Clinician spoken to</label>
          <input id="phone-clinician" autoFocus value={clinician} onChange={(e) => setClinician(e.target.value)} maxLength={200} />
        </div>
        <div className="field">
          <label htmlFor="phone-role">Their role</label>
          <input id="phone-role" value={role} onChange={(e) => setRole(e.target.value)} maxLength={200} placeholder="e.g. ED registrar" />
        </div>
        <div className="field">
          <label htmlFor="phone-time">Time of the call</label>
          <input id="phone-time" type="datetime-local" value={time} onChange={(e) => setTime(e.target.value)} />
        </div>
      </div>
      <div className="field">
        <label htmlFor="phone-note">Note (optional)</label>
        <textarea id="phone-note" rows={2} value={note} onChange={(e) => setNote(e.target.value)} maxLength={2000} />
      </div>
      <ErrorText error={error} />
      {more > 0 && <p className="muted">{more} more report{more === 1 ? '' : 's'} also need{more === 1 ? 's' : ''} a call after this one.</p>}
      <SubmitActions busy={busy} label="I phoned it through: record the call" busyLabel="Recording…" />
    </form>
  );
}
