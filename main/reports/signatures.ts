// Verifies one signature record on its own: recompute the SHA-256 of what it claims to have
// signed (common/signatures.ts rebuilds that text from the report) and compare.
import type { Report, SignatureRecord } from '../../common/report.ts';
import { signedTextOf } from '../../common/signatures.ts';
import { sha256 } from './ReportRepository.ts';

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

export function verifySignature(record: SignatureRecord, report: Report): SignatureCheck {
  const text = signedTextOf(record, report);
  if (!text.ok) return text;
  const hash = sha256(text.text);
  if (hash === record.contentHash) return { ok: true };
  return {
    ok: false,
    reason: `The ${record.meaning} signature by ${record.name} (${record.signedAt}) does not match the report as it is now: it signed sha256 ${record.contentHash}, the report gives ${hash}.`,
  };
}
