// Every migration, in version order. Add a file `NNNN-kebab-name.ts` (numbered in tens) and
// list it here. Never edit a migration that has shipped: add a new one.
import type { Db } from '../database.ts';
import m0010 from './0010-reports.ts';
import m0020 from './0020-dicom-index.ts';
import m0030 from './0030-take-over.ts';
import m0040 from './0040-exam-details.ts';
import m0050 from './0050-signatures.ts';
import m0060 from './0060-patient-identity.ts';
import m0070 from './0070-corrections.ts';
import m0080 from './0080-revision-history.ts';
import m0090 from './0090-audit-chain.ts';
import m0100 from './0100-phone-call-sync.ts';

export interface Migration {
  version: number;
  name: string;
  up(db: Db): void;
}

export const MIGRATIONS: readonly Migration[] = [m0010, m0020, m0030, m0040, m0050, m0060, m0070, m0080, m0090, m0100];
