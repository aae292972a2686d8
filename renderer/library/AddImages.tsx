// Adding images to the library: a folder path (or, in Electron, the native folder picker), or
// files uploaded in batches (browser mode); the outcome in one sentence, errors listed below.
import { useState, type FormEvent, type RefObject } from 'react';
import type { AppInfo, IndexResult } from '../../common/contract.ts';
import { useClient } from '../data/client.ts';

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

export interface AddImagesProps {
  appInfo: AppInfo;
  folderInputRef: RefObject<HTMLInputElement | null>;
  /** Something was indexed (the library and its error list are stale). */
  onIndexed(): void;
}

export function AddImages({ appInfo, folderInputRef, onIndexed }: AddImagesProps) {
  const client = useClient();
  const [folder, setFolder] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<{ kind: 'info' | 'error'; text: string } | null>(null);

  const afterIndex = (r: IndexResult) => {
    setMessage({ kind: r.indexed === 0 && r.errors.length > 0 ? 'error' : 'info', text: summarise(r) });
    onIndexed();
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

  return (
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
      <p aria-live="polite" data-testid="add-images-status" className={message?.kind === 'error' ? 'error-text' : 'info-text'}>
        {busy ?? message?.text ?? ''}
      </p>
    </section>
  );
}
