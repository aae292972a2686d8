// Signing on the report life cycle (common/lifecycle.ts): a reporter's final signature, a
// trainee's provisional one, a trainer's verification and addenda. Each is one transaction: the
// signature record, the new state, the audit entry and the outbox row for the hub commit
// together, or none of them does. Who may do what comes only from common/lifecycle.ts.
import { ContractError } from '../../common/contract.ts';
import { addendumSignedPayload, type AddendumPayload, type SignedReportPayload, type VerificationPayload } from '../../common/hubPayload.ts';
import {
  checkTransition,
  checkTransitionFrom,
  isSigned,
  ROLE_LABELS,
  rolesThatMay,
  signingTransitionFor,
  STATE_LABELS,
  TRANSITIONS,
  type ReportState,
  type Transition,
} from '../../common/lifecycle.ts';
import { ReportContent, signedPayload, type Addendum, type Profile, type Report, type StudyRef } from '../../common/report.ts';
import { finalSignatureOf, provisionalSignatureOf } from '../../common/signatures.ts';
import { checkSignOff } from '../../common/signoff.ts';
import { isMeaningfulText, unstorableTextReason } from '../../common/text.ts';
import { parseRefusal, refusalMeaning } from '../../common/refusal.ts';
import { parseSigner, parseStudy, sha256, studyOfRow, type ReportRepository, type ReportRow } from './ReportRepository.ts';

/** Refuses `transition` from `state` by `role`: the state decides first ('conflict'), then the role ('forbidden'). */
function requireTransition(state: ReportState, transition: Transition, who: Profile): ReportState {
  const from = checkTransitionFrom(state, transition);
  if (!from.ok) {
    const hint = isSigned(state) && transition !== 'addendum' ? ' Add an addendum instead.' : '';
    throw new ContractError('conflict', `${from.reason}${hint}`);
  }
  const may = checkTransition(state, transition, who.role);
  if (!may.ok) throw new ContractError('forbidden', may.reason);
  return may.to;
}

export class ReportLifecycle {
  /**
   * `priorCount`: how many earlier studies of the same patient identity the image library holds
   * (the study:priors list); "No prior imaging available" then needs a reason. Default: none known.
   */
  constructor(
    private readonly repo: ReportRepository,
    private readonly priorCount: (study: StudyRef) => number = () => 0,
  ) {}

  /**
   * Signs the report: final for a reporter, provisional (awaiting a trainer's verification) for a
   * trainee; other roles are refused. The study must be the one the report is bound to, `revision`
   * the latest saved revision and the content free of blocking sign-off problems. The exam is taken
   * from the image index and bound into the signed payload.
   */
  sign(reportId: string, study: StudyRef, revision: number, signer: Profile): Report {
    const ref = parseStudy(study);
    const who = parseSigner(signer);
    const transition = signingTransitionFor(who.role);
    if (!transition) {
      const signers = [...rolesThatMay(TRANSITIONS['sign-final'].action), ...rolesThatMay(TRANSITIONS['sign-provisional'].action)];
      const names = signers.map((r) => ROLE_LABELS[r].toLowerCase()).join(', ');
      throw new ContractError('forbidden', `A ${ROLE_LABELS[who.role].toLowerCase()} may not sign reports; reports are signed by: ${names}.`);
    }
    const repo = this.repo;
    repo.tx(() => {
      const row = repo.row(reportId);
      repo.checkBound(row, ref);
      repo.refuseTakenOver(row);
      const to = requireTransition(row.state, transition, who);
      if (row.revision !== revision) {
        throw new ContractError('conflict', `You are signing revision ${revision} but the latest saved revision is ${row.revision}. Review the latest version and sign again.`);
      }
      const content = ReportContent.parse(JSON.parse(row.content));
      const exam = repo.examToBind(row.study_uid);
      const boundStudy = studyOfRow(row);
      const signedAt = repo.iso();
      // The rules see what the editor saw: the signature time, the exam (study date) and how many
      // earlier studies of the same patient identity the library holds.
      const blocking = checkSignOff(content, undefined, { signedAt, exam, priorsInLibrary: this.priorCount(boundStudy) }).filter((p) => p.severity === 'block');
      if (blocking.length > 0) {
        throw new ContractError('unsigned-problems', `The report cannot be signed yet: ${blocking.map((p) => `[${p.sectionId}] ${p.message}`).join(' ')}`);
      }
      const meaning = TRANSITIONS[transition].meaning;
      // A corrected report names the refused report it replaces, inside what is signed.
      const replaces = row.replaces ?? undefined;
      const contentHash = sha256(signedPayload(content, boundStudy, who, signedAt, meaning, exam, undefined, replaces));
      const record = repo.insertSignature(reportId, who, meaning, signedAt, contentHash);
      const changed = repo.st.signDraft.run(to, JSON.stringify(exam), signedAt, reportId, revision).changes;
      if (changed !== 1) throw new ContractError('conflict', 'The report changed while signing. Reload it.');
      repo.writeAudit(who.name, 'sign', reportId, revision, `${meaning} of revision ${revision}; ${STATE_LABELS[to]}; sha256 ${contentHash}`);
      const { id: _id, reportId: _r, addendumId: _a, ...signature } = record;
      const payload: SignedReportPayload = {
        kind: 'report',
        report: {
          id: reportId,
          study: boundStudy,
          exam,
          content,
          signature: { ...signature, meaning },
          author: row.author,
          createdAt: row.created_at,
          ...(replaces ? { replaces } : {}),
        },
      };
      repo.writeOutbox(payload.kind, reportId, payload, signedAt);
    });
    return repo.load(reportId);
  }

  /**
   * A trainer verifies a trainee's provisional report: the report becomes final, carrying both
   * signatures. The verification covers the same content, study and exam, and names the
   * provisional signature's hash. Nobody verifies their own report.
   */
  verify(reportId: string, study: StudyRef, verifier: Profile): Report {
    const ref = parseStudy(study);
    const who = parseSigner(verifier);
    const repo = this.repo;
    repo.tx(() => {
      const row = repo.row(reportId);
      repo.checkBound(row, ref);
      const to = requireTransition(row.state, 'verify', who);
      const report = repo.toReport(row);
      const provisional = provisionalSignatureOf(report);
      if (!provisional) throw new ContractError('internal', `Report ${reportId} is provisional but has no provisional signature.`);
      if (provisional.registration === who.registration) {
        throw new ContractError('forbidden', 'A report is verified by someone other than the person who signed it provisionally.');
      }
      const exam = repo.storedExam(row);
      if (!exam) throw new ContractError('internal', `Provisional report ${reportId} has no exam bound to it.`);
      const signedAt = repo.iso();
      const verifies = { provisionalHash: provisional.contentHash };
      const contentHash = sha256(signedPayload(report.content, report.study, who, signedAt, 'verification', exam, verifies));
      const record = repo.insertSignature(reportId, who, 'verification', signedAt, contentHash);
      this.setState(row, to);
      repo.writeAudit(who.name, 'sign', reportId, row.revision, `verification of the provisional report by ${provisional.name} (sha256 ${provisional.contentHash}); ${STATE_LABELS[to]}; sha256 ${contentHash}`);
      const { id: _id, reportId: _r, addendumId: _a, ...signature } = record;
      const payload: VerificationPayload = { kind: 'verification', reportId, provisionalHash: provisional.contentHash, signature: { ...signature, meaning: 'verification' } };
      repo.writeOutbox(payload.kind, reportId, payload, signedAt);
    });
    return repo.load(reportId);
  }

  /** Adds a signed addendum to a final report; what was signed before is never altered. */
  addendum(reportId: string, text: string, signer: Profile): Addendum {
    const who = parseSigner(signer);
    const body = typeof text === 'string' ? text.trim() : '';
    if (!isMeaningfulText(body)) {
      throw new ContractError('invalid-input', body === '' ? 'An addendum needs text.' : 'An addendum needs text: spaces, punctuation, symbols or invisible characters alone do not count.');
    }
    if (body.length > 100_000) throw new ContractError('invalid-input', 'An addendum is limited to 100,000 characters.');
    const unstorable = unstorableTextReason(body);
    if (unstorable) throw new ContractError('invalid-input', `The addendum ${unstorable}: remove that character and try again.`);
    const repo = this.repo;
    return repo.tx(() => {
      const row = repo.row(reportId);
      const to = requireTransition(row.state, 'addendum', who);
      const original = finalSignatureOf(repo.toReport(row));
      if (!original) throw new ContractError('internal', `Report ${reportId} is ${row.state} but has no final signature.`);
      const originalHash = original.contentHash;
      const signedAt = repo.iso();
      const contentHash = sha256(addendumSignedPayload({ reportId, originalHash, text: body, signer: who, signedAt }));
      const id = repo.newId();
      repo.st.insertAddendum.run(id, reportId, originalHash, body, who.name, who.role, who.registration, signedAt, contentHash);
      repo.insertSignature(reportId, who, 'addendum', signedAt, contentHash, id);
      this.setState(row, to);
      repo.writeAudit(who.name, 'addendum', reportId, null, `addendum ${id}; sha256 ${contentHash}`);
      const addendum = { id, text: body, signature: { ...who, signedAt, meaning: 'addendum' as const, contentHash } };
      const payload: AddendumPayload = { kind: 'addendum', reportId, originalHash, addendum };
      repo.writeOutbox(payload.kind, reportId, payload, signedAt);
      return addendum;
    });
  }

  /**
   * A corrected report for a signed report the hub refused for good (a refusal that resending the
   * same signed bytes cannot lift, common/refusal.ts): a new draft of the same study, pre-filled with
   * the refused report's content, that names the refused report (`replaces`, bound into its
   * signature). Audited on both reports. Asking again returns the same correction.
   */
  correct(refusedId: string, actor: string): Report {
    const repo = this.repo;
    const id = repo.tx(() => {
      const row = repo.row(refusedId);
      if (!isSigned(row.state)) throw new ContractError('conflict', 'Only a signed report the hub refused can be corrected; a draft is still edited as it is.');
      const delivery = repo.st.deliveryOf.get(refusedId);
      if (!delivery || delivery.state !== 'failed') {
        throw new ContractError('conflict', delivery?.state === 'synced' ? 'The hub holds this report: add an addendum to correct it.' : 'This report has not been refused by the hub: it is still being delivered.');
      }
      const refusal = parseRefusal(delivery.last_error);
      const meaning = refusal ? refusalMeaning(refusal.code, '') : null;
      if (meaning?.resendCanHelp) {
        throw new ContractError('conflict', `The hub may accept this report as it is once the hub side is fixed (${meaning.words}): retry it instead.`);
      }
      if (meaning?.correctionCanHelp === false) {
        throw new ContractError('conflict', `A corrected report of this study would be refused too: ${meaning.words}.`);
      }
      const existing = repo.st.correctionOf.get(refusedId);
      if (existing) return existing.id;
      const newId = repo.newId();
      const at = repo.iso();
      repo.st.insertCorrection.run(newId, row.patient_id, row.study_uid, row.template_id, row.content, actor, at, at, refusedId);
      repo.st.insertRevision.run(newId, 0, at, actor, row.content);
      repo.writeAudit(actor, 'create', newId, 0, `corrected report replacing ${refusedId}, refused by the hub: ${delivery.last_error ?? 'no reason recorded'}`);
      repo.writeAudit(actor, 'view-signed', refusedId, null, `corrected report ${newId} created to replace it`);
      return newId;
    });
    return repo.load(id);
  }

  /** A signed report's row changes only its state (the database refuses anything else). */
  private setState(row: ReportRow, to: ReportState): void {
    if (row.state === to) return;
    const changed = this.repo.st.setState.run(to, row.id, row.state).changes;
    if (changed !== 1) throw new ContractError('conflict', 'The report changed while signing. Reload it.');
  }
}
