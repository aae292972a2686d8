// The local library: patients → studies → series, opening folders or uploading files, the files
// that could not be indexed (with reasons), and the reports in progress.
import { useEffect, useState, type FormEvent, type ReactNode, type RefObject } from 'react';
import type { AppInfo, IndexError, IndexResult, PatientSummary, ReportListItem } from '../common/contract.ts';
import type { Client } from './api.ts';
import { useHubStatus } from './hub/HubContext.ts';
import { SyncStatus } from './hub/SyncStatus.tsx';
import { formatAge, formatDateTime, formatDicomDate, formatPersonName, formatSex, seriesLabel } from './format.ts';

export interface LibraryProps {
  client: Client;
  appInfo: AppInfo;
  patients: PatientSummary[];
  currentStudyUid: string | null;
  folderInputRef: RefObject<HTMLInputElement | null>;
  refreshKey: number;
  onOpenStudy(studyUid: string): void;
  onLibraryChanged(): void;
  /** Shown first (the department's unfinished reports). */
  top?: ReactNode;
}

/** Batches for `library:importFiles`: the bridge takes at most 128 MiB per request. */
const BATCH_BYTES = 48 * 1024 * 1024;
const BATCH_FILES = 400;

function readBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onerror = () => reject(reader.error ?? new Error(`Could not read ${file.name}`));
    reader.onload = () => {
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(',') + 1));
    };
    reader.readAsDataURL(file);
  });
}

function summarise(r: IndexResult): string {
  const studies = r.studyUids.length;
  return `Read ${r.scanned} file${r.scanned === 1 ? '' : 's'}: ${r.indexed} image${r.indexed === 1 ? '' : 's'} indexed in ${studies} stud${studies === 1 ? 'y' : 'ies'}${
    r.errors.length ? `, ${r.errors.length} could not be indexed (see below)` : ''
  }.`;
}

export function Library({ client, appInfo, patients, currentStudyUid, folderInputRef, refreshKey, onOpenStudy, onLibraryChanged, top }: LibraryProps) {
  const [folder, setFolder] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<{ kind: 'info' | 'error'; text: string } | null>(null);
  const [localKey, setLocalKey] = useState(0);
  const [lists, setLists] = useState<{ key: string; errors: IndexError[]; reports: ReportListItem[] | null; loadError: string | null }>({
    key: '',
    errors: [],
    reports: null,
    loadError: null,
  });

  // Reloaded when the app says reports changed (refreshKey) or after indexing here (localKey).
  useEffect(() => {
    let live = true;
    const key = `${refreshKey}:${localKey}`;
    void Promise.all([client.api['library:errors']({}), client.api['reports:list']({})]).then(([e, r]) => {
      if (!live) return;
      const failed = [e, r].find((x) => !x.ok);
      setLists((prev) => ({
        key,
        errors: e.ok ? e.value : prev.errors,
        reports: r.ok ? r.value : prev.reports,
        loadError: failed && !failed.ok ? failed.error.message : null,
      }));
    });
    return () => {
      live = false;
    };
  }, [client, refreshKey, localKey]);
  const { errors, reports, loadError } = lists;

  const afterIndex = (r: IndexResult) => {
    setMessage({ kind: r.indexed === 0 && r.errors.length > 0 ? 'error' : 'info', text: summarise(r) });
    onLibraryChanged();
    setLocalKey((k) => k + 1);
  };

  const openFolder = async (e: FormEvent) => {
    e.preventDefault();
    if (!folder.trim()) {
      setMessage({ kind: 'error', text: 'Type the path of a folder of DICOM files.' });
      folderInputRef.current?.focus();
      return;
    }
    setBusy('Indexing folder…');
    setMessage(null);
    const r = await client.api['library:openFolder']({ path: folder.trim() });
    setBusy(null);
    if (!r.ok) setMessage({ kind: 'error', text: `Could not open the folder: ${r.error.message}` });
    else afterIndex(r.value);
  };

  const pickFolder = async () => {
    setBusy('Indexing folder…');
    setMessage(null);
    const r = await client.api['library:pickFolder']({});
    setBusy(null);
    if (!r.ok) setMessage({ kind: 'error', text: r.error.message });
    else if (r.value) afterIndex(r.value);
  };

  const importFiles = async (list: FileList | null) => {
    const files = Array.from(list ?? []);
    if (files.length === 0) return;
    setMessage(null);
    const total: IndexResult = { scanned: 0, indexed: 0, errors: [], studyUids: [] };
    let batch: { name: string; dataBase64: string }[] = [];
    let batchBytes = 0;
    const send = async (): Promise<boolean> => {
      if (batch.length === 0) return true;
      const r = await client.api['library:importFiles']({ files: batch });
      batch = [];
      batchBytes = 0;
      if (!r.ok) {
        setMessage({ kind: 'error', text: `Import failed: ${r.error.message}` });
        return false;
      }
      total.scanned += r.value.scanned;
      total.indexed += r.value.indexed;
      total.errors.push(...r.value.errors);
      for (const uid of r.value.studyUids) if (!total.studyUids.includes(uid)) total.studyUids.push(uid);
      return true;
    };
    try {
      for (const [i, file] of files.entries()) {
        setBusy(`Reading file ${i + 1} of ${files.length}…`);
        if (file.size > 64 * 1024 * 1024) {
          total.scanned += 1;
          total.errors.push({ path: file.webkitRelativePath || file.name, reason: 'File over 64 MiB: open its folder instead.' });
          continue;
        }
        const dataBase64 = await readBase64(file);
        if (batchBytes + dataBase64.length > BATCH_BYTES || batch.length >= BATCH_FILES) {
          if (!(await send())) return;
        }
        batch.push({ name: (file.webkitRelativePath || file.name).slice(-255), dataBase64 });
        batchBytes += dataBase64.length;
      }
      if (!(await send())) return;
      afterIndex(total);
    } catch (err) {
      setMessage({ kind: 'error', text: `Import failed: ${err instanceof Error ? err.message : String(err)}` });
    } finally {
      setBusy(null);
    }
  };

  const hub = useHubStatus();
  const drafts = (reports ?? []).filter((r) => r.status === 'draft');
  const signed = (reports ?? []).filter((r) => r.status === 'signed');

  return (
    <div className="library">
      {top}
      <section className="panel" aria-labelledby="lib-add">
        <h2 id="lib-add">Add images</h2>
        <form className="inline-form" onSubmit={(e) => void openFolder(e)}>
          <label htmlFor="folder-path">Folder path</label>
          <input
            id="folder-path"
            ref={folderInputRef}
            value={folder}
            onChange={(e) => setFolder(e.target.value)}
            placeholder="/path/to/dicom/folder"
            spellCheck={false}
            aria-keyshortcuts="Control+O"
          />
          <button type="submit" disabled={busy !== null}>
            Open folder
          </button>
          {appInfo.mode === 'electron' && (
            <button type="button" onClick={() => void pickFolder()} disabled={busy !== null}>
              Choose folder…
            </button>
          )}
        </form>
        <div className="inline-form">
          <label htmlFor="import-files">Import DICOM files</label>
          <input id="import-files" type="file" multiple onChange={(e) => void importFiles(e.target.files).then(() => (e.target.value = ''))} disabled={busy !== null} />
        </div>
        <p aria-live="polite" className={message?.kind === 'error' ? 'error-text' : 'info-text'}>
          {busy ?? message?.text ?? ''}
        </p>
      </section>

      <section className="panel" aria-labelledby="lib-reports">
        <h2 id="lib-reports">Reports in progress and signed</h2>
        {loadError && <p className="error-text">Could not load: {loadError}</p>}
        {reports === null ? (
          <p>Loading…</p>
        ) : reports.length === 0 ? (
          <p>No reports yet.</p>
        ) : (
          <table className="data-table">
            <caption className="sr-only">Reports: {drafts.length} unsigned drafts, {signed.length} signed</caption>
            <thead>
              <tr>
                <th scope="col">Patient</th>
                <th scope="col">Study</th>
                <th scope="col">Status</th>
                {hub?.configured && <th scope="col">Hub</th>}
                <th scope="col">Author</th>
                <th scope="col">Last change</th>
                <th scope="col">
                  <span className="sr-only">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {[...drafts, ...signed].map((r) => (
                <tr key={r.id} className={r.study.studyUid === currentStudyUid ? 'current-row' : undefined}>
                  <td>
                    {formatPersonName(r.patientName)} <span className="muted">({r.study.patientId})</span>
                  </td>
                  <td>{r.studyDescription || r.study.studyUid}</td>
                  <td>{r.status === 'signed' ? <span className="status-final">FINAL</span> : <span className="status-draft">Draft</span>}</td>
                  {hub?.configured && <td>{r.status === 'signed' ? <SyncStatus client={client} reportId={r.id} compact /> : <span className="muted">Unsigned</span>}</td>}
                  <td>{r.author}</td>
                  <td>
                    <time dateTime={r.updatedAt}>{formatDateTime(r.updatedAt)}</time> <span className="muted">({formatAge(r.updatedAt)})</span>
                  </td>
                  <td>
                    <button type="button" onClick={() => onOpenStudy(r.study.studyUid)} aria-label={`Open report: ${formatPersonName(r.patientName)}, ${r.studyDescription}`}>
                      Open
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="panel" aria-labelledby="lib-patients">
        <h2 id="lib-patients">Patients</h2>
        {patients.length === 0 ? (
          <p>No images yet. Open a folder or import files.</p>
        ) : (
          <ul className="patient-list">
            {patients.map((p) => (
              <li key={p.patientId} className="patient-item">
                <h3 className="patient-heading">
                  {formatPersonName(p.patientName)}{' '}
                  <span className="muted">
                    ID {p.patientId || 'unknown'} · born {formatDicomDate(p.birthDate, 'unknown')} · {formatSex(p.sex)}
                  </span>
                </h3>
                <ul className="study-list">
                  {p.studies.map((s) => (
                    <li key={s.studyUid} className={s.studyUid === currentStudyUid ? 'study-item current-row' : 'study-item'}>
                      <div className="study-line">
                        <button
                          type="button"
                          onClick={() => onOpenStudy(s.studyUid)}
                          aria-label={`Open study ${s.description || 'without description'}, ${formatDicomDate(s.studyDate)}, ${formatPersonName(p.patientName)}`}
                        >
                          Open
                        </button>
                        <span className="study-date">{formatDicomDate(s.studyDate)}</span>
                        <span className="study-desc">{s.description || 'No description'}</span>
                        <span className="muted">
                          {[s.modalities.join(', '), `accession ${s.accession || 'none'}`].filter((x) => x !== '').join(' · ')}
                        </span>
                      </div>
                      <ul className="series-list" aria-label={`Series of ${s.description || 'study'}`}>
                        {s.series.map((se) => (
                          <li key={se.seriesUid}>
                            {seriesLabel(se)}
                          </li>
                        ))}
                      </ul>
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="panel" aria-labelledby="lib-errors">
        <h2 id="lib-errors">Files that could not be indexed ({errors.length})</h2>
        {errors.length === 0 ? (
          <p>None.</p>
        ) : (
          <ul className="error-list">
            {errors.map((e, i) => (
              <li key={`${e.path}-${i}`}>
                <code>{e.path}</code>: {e.reason}
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
