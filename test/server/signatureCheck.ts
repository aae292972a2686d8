// Verifies every signature record of a stored report on its own, from what the hub serves
// (server/reports.ts readSignedReport): the signed text is rebuilt by common/signatures.ts, the one
// definition the workstation uses too, and its SHA-256 must be the record's content hash.
import crypto from 'node:crypto';
import { signedTextOf } from '../../common/signatures.ts';
import type { SignatureRecord } from '../../common/report.ts';
import type { Queryable } from '../../server/db/adapter.ts';
import { readSignedReport } from '../../server/reports.ts';

const sha256 = (s: string): string => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

/** Every signature record of these reports (each report's oldest first), each with whether it verifies alone. */
export async function checkSignatures(db: Queryable, reportIds: readonly string[]): Promise<(SignatureRecord & { verifies: boolean })[]> {
  const out: (SignatureRecord & { verifies: boolean })[] = [];
  for (const id of reportIds) {
    const report = await readSignedReport(db, id);
    if (!report) throw new Error(`no stored report ${id}`);
    for (const s of report.signatures) {
      const text = signedTextOf(s, report);
      out.push({ ...s, verifies: text.ok && sha256(text.text) === s.contentHash });
    }
  }
  return out;
}
