// The local library (patients → studies → series) as the app last read it: reloaded when main
// says it changed; `find` looks a study up, reading the library again when it is not (yet) known.
import { useCallback, useEffect, useMemo, useRef } from 'react';
import type { PatientSummary, StudySummary } from '../../common/contract.ts';
import { useClient } from '../data/client.ts';
import { useQuery } from '../data/useQuery.ts';

export interface StudyInLibrary {
  study: StudySummary;
  patient: PatientSummary;
}

export function findStudy(patients: readonly PatientSummary[], studyUid: string): StudyInLibrary | null {
  for (const p of patients) {
    const s = p.studies.find((x) => x.studyUid === studyUid);
    if (s) return { study: s, patient: p };
  }
  return null;
}

export interface Library {
  patients: PatientSummary[];
  error: string | null;
  reload(): void;
  /** The study and its patient as known now (no read). */
  known(studyUid: string): StudyInLibrary | null;
  /** The study, reading the library again if it is not known yet. */
  find(studyUid: string): Promise<StudyInLibrary | null>;
}

export function useLibrary(enabled: boolean): Library {
  const client = useClient();
  const q = useQuery('library:list', (api) => api['library:list']({}), { enabled, refetchOn: (e) => e.type === 'library-changed' });
  const patients = useMemo(() => q.data ?? [], [q.data]);
  const ref = useRef<PatientSummary[]>(patients);
  useEffect(() => {
    ref.current = patients;
  }, [patients]);
  const { setData } = q;
  const known = useCallback((uid: string) => findStudy(ref.current, uid), []);
  const find = useCallback(
    async (uid: string) => {
      const hit = findStudy(ref.current, uid);
      if (hit) return hit;
      const r = await client.api['library:list']({});
      if (!r.ok) return null;
      ref.current = r.value;
      setData(r.value);
      return findStudy(r.value, uid);
    },
    [client, setData],
  );
  return { patients, error: q.error, reload: q.reload, known, find };
}
