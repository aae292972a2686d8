// Shared by the report-store tests and the crash child: temp databases, studies, profiles and
// report content (a signable CT head report, and a deterministic "typing" sequence).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { ContractError, type ErrorCode } from '../../../common/contract.ts';
import type { Profile, ReportContent, StudyRef } from '../../../common/report.ts';
import { openDatabase, type Db } from '../../../main/db/database.ts';

export const STUDY_A: StudyRef = { patientId: 'PAT-0001', studyUid: '1.2.826.0.1.3680043.8.498.1001' };
export const STUDY_B: StudyRef = { patientId: 'PAT-0002', studyUid: '1.2.826.0.1.3680043.8.498.2002' };
export const CT_HEAD = { modality: 'CT', description: 'CT HEAD WITHOUT CONTRAST' };

export const RADIOLOGIST: Profile = { name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567' };
export const TRAINER: Profile = { name: 'Dr Grace Hopper', role: 'trainer', registration: 'GMC 7654321' };
export const TRAINEE: Profile = { name: 'Dr Alan Turing', role: 'trainee', registration: 'GMC 1111111' };

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `failsafe-${prefix}-`));
}

export function tempDb(prefix = 'reports'): { db: Db; file: string; dir: string } {
  const dir = tempDir(prefix);
  const file = path.join(dir, 'failsafe.sqlite');
  return { db: openDatabase(file), file, dir };
}

export { fixtureExam, signableContent } from '../../support/reportFixtures.ts';
import { signableContent } from '../../support/reportFixtures.ts';

const FINDINGS_TEXT =
  'The brain parenchyma demonstrates normal grey-white matter differentiation. No acute infarct, haemorrhage or mass lesion. ' +
  'The ventricles and sulci are of normal size for age. No midline shift. The basal cisterns are patent. ' +
  'The visualised paranasal sinuses and mastoid air cells are clear. No calvarial fracture is identified. ';

/** When the crash child's simulated day starts (crashChild.ts with a clock step). */
export const CRASH_DAY_START = Date.parse('2026-03-02T08:00:00.000Z');

/** The report as typed after `n` keystrokes: the findings grow by one character per keystroke. */
export function typedContent(n: number): ReportContent {
  let text = '';
  while (text.length < n) text += FINDINGS_TEXT;
  return {
    ...signableContent(),
    fields: { ...signableContent().fields, brainParenchyma: text.slice(0, n) },
  };
}

/** Runs `fn`, expecting a ContractError with this code (and message, if given). */
export function expectCode(fn: () => unknown, code: ErrorCode, message?: RegExp | string): ContractError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ContractError);
  const e = caught as ContractError;
  expect(e.code).toBe(code);
  if (typeof message === 'string') expect(e.message).toBe(message);
  else if (message) expect(e.message).toMatch(message);
  return e;
}
