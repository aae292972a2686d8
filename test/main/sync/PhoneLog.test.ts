// The phone-call record: one schema (common/contract.ts's PhoneCall) from the renderer's channel
// input to the workstation's append-only log; bad records are refused with a clear reason and
// nothing is stored; a stored record cannot be changed or deleted.
import { afterEach, describe, expect, it } from 'vitest';
import { contract, PhoneCall, PhoneRecordInput } from '../../../common/contract.ts';
import { openDatabase, type Db } from '../../../main/db/database.ts';
import { SqlitePhoneLog } from '../../../main/sync/PhoneLog.ts';
import { issueText } from '../../../common/validation.ts';

const CALL = { clinician: 'Dr Rose Tyler', role: 'ED consultant', time: '2026-11-28T10:15:00+01:00', note: 'read back' };

let db: Db | null = null;
afterEach(() => {
  db?.close();
  db = null;
});

function log(): SqlitePhoneLog {
  db = openDatabase(':memory:');
  return new SqlitePhoneLog(db);
}

describe('the phone-call record', () => {
  it('is one schema: the channel input is the log\'s record plus the report id', () => {
    expect(contract['sync:recordPhone'].input).toBe(PhoneRecordInput);
    expect(Object.keys(PhoneRecordInput.shape).sort()).toEqual([...Object.keys(PhoneCall.shape), 'reportId'].sort());
    expect(PhoneRecordInput.safeParse({ reportId: 'r1', ...CALL, extra: 1 }).success).toBe(false);
    expect(PhoneRecordInput.parse({ reportId: 'r1', clinician: ' Dr X ', role: 'registrar', time: CALL.time })).toEqual({
      reportId: 'r1', clinician: 'Dr X', role: 'registrar', time: CALL.time, note: '',
    });
  });

  it('refuses what a careless or hostile caller might send, saying which field and why', () => {
    const bad = (over: Record<string, unknown>): string => {
      const r = PhoneCall.safeParse({ ...CALL, ...over });
      return r.success ? 'accepted' : issueText(r.error);
    };
    expect(bad({ clinician: '   ' })).toBe('clinician: Who was phoned?');
    expect(bad({ role: '' })).toBe('role: What is their role?');
    expect(bad({ time: '' })).toMatch(/^time: When was the call\?/);
    expect(bad({ time: 'yesterday-ish' })).toMatch(/^time: time must be an ISO date-time with its time zone/);
    // No zone: ambiguous between this workstation and the hub; an impossible day.
    expect(bad({ time: '2026-11-28T10:15' })).toMatch(/^time: time must be an ISO date-time/);
    expect(bad({ time: '2026-02-30T10:15Z' })).toMatch(/^time: time must be an ISO date-time/);
    // Spaces, punctuation or invisible characters are not a name or a role.
    expect(bad({ clinician: '...' })).toBe('clinician: Who was phoned? Spaces, punctuation, symbols or invisible characters alone do not count.');
    expect(bad({ role: '\u200b\u200b' })).toMatch(/^role: What is their role\? Spaces/);
    expect(bad({ note: 'a\u0000b' })).toMatch(/^note: This text contains a NUL character/);
    expect(bad({ clinician: 'x'.repeat(201) })).toMatch(/^clinician: Too big/);
    expect(bad({ note: 'x'.repeat(2001) })).toMatch(/^note: Too big/);
    expect(bad({ clinician: 42 })).toMatch(/^clinician: Invalid input/);
  });

  it('stores a valid call with its time in UTC and who recorded it, and reads it back', () => {
    const l = log();
    const rec = l.record('r1', CALL, 'Dr Ada Lovelace', '2026-11-28T09:16:00.000Z');
    expect(rec).toEqual({ seq: rec.seq, reportId: 'r1', clinician: 'Dr Rose Tyler', role: 'ED consultant', time: '2026-11-28T09:15:00.000Z', note: 'read back', recordedBy: 'Dr Ada Lovelace', recordedAt: '2026-11-28T09:16:00.000Z' });
    expect(l.has('r1')).toBe(true);
    expect(l.has('r2')).toBe(false);
    expect(l.forReport('r1')).toEqual([rec]);
  });

  it('stores nothing when the record is refused, and the reason names the field', () => {
    const l = log();
    expect(() => l.record('r1', { ...CALL, clinician: ' ' }, 'Dr A', '2026-11-28T09:16:00.000Z')).toThrow('Phone communication record is not valid: clinician: Who was phoned?');
    expect(() => l.record('r1', { ...CALL, time: 'soon' }, 'Dr A', '2026-11-28T09:16:00.000Z')).toThrow(/time: time must be an ISO date-time/);
    expect(l.has('r1')).toBe(false);
  });

  it('refuses a call given as after the moment it is recorded (beyond a few minutes of clock skew)', () => {
    const l = log();
    expect(() => l.record('r1', { ...CALL, time: '2026-11-28T09:30:00Z' }, 'Dr A', '2026-11-28T09:16:00.000Z')).toThrow(/time: the call is given as .*, after it is being recorded/);
    expect(l.has('r1')).toBe(false);
    // A phone or wall clock a few minutes ahead is accepted.
    expect(l.record('r1', { ...CALL, time: '2026-11-28T09:19:00Z' }, 'Dr A', '2026-11-28T09:16:00.000Z').time).toBe('2026-11-28T09:19:00.000Z');
  });

  it('is append-only: a stored call cannot be changed or deleted', () => {
    const l = log();
    l.record('r1', CALL, 'Dr A', '2026-11-28T09:16:00.000Z');
    expect(() => db!.prepare("UPDATE sync_phone_communications SET clinician = 'someone else'").run()).toThrow();
    expect(() => db!.prepare('DELETE FROM sync_phone_communications').run()).toThrow();
    expect(l.forReport('r1')[0]!.clinician).toBe('Dr Rose Tyler');
  });
});
