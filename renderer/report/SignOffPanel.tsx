// The sign-off check beside the draft: every problem (blocking first) linked to its field, who is
// signing and what the signature will mean, and the sign button for the role (a trainee submits
// a provisional report; a role that may not sign gets no button, and is told why).
import type { SignOffProblem } from '../../common/signoff.ts';
import { CARRIED_OVER_TITLE, CARRIED_SECTION_ID, type Template } from '../../common/templates.ts';
import { ROLE_LABELS } from '../../common/lifecycle.ts';
import type { Profile } from '../../common/report.ts';
import { ErrorText } from '../ErrorText.tsx';
import { focusFirstIn } from '../shortcuts.ts';
import { signButtonLabel, type SignAction } from './reportActions.ts';

export interface SignOffPanelProps {
  problems: readonly SignOffProblem[];
  template: Template | null;
  profile: Profile;
  action: SignAction | null;
  allowed: boolean;
  signing: boolean;
  /** Why signing waits besides the problems (a save conflict), or ''. */
  waiting: string;
  error: string | null;
  onSign(): void;
}

function focusField(fieldId: string, sectionId: string): void {
  const el = document.getElementById(`field-${fieldId}`);
  if (el) {
    el.focus();
    el.scrollIntoView({ block: 'center' });
  } else focusFirstIn(document.getElementById(`section-${sectionId}`));
}

export function SignOffPanel({ problems, template, profile, action, allowed, signing, waiting, error, onSign }: SignOffPanelProps) {
  const blocking = problems.filter((p) => p.severity === 'block');
  const warnings = problems.filter((p) => p.severity === 'warn');
  const blockedDescription = blocking.length > 0 ? `Signing is blocked until: ${blocking.map((p) => p.message).join(' ')}` : waiting;
  return (
    <section className="signoff" aria-labelledby="signoff-title">
      <h3 id="signoff-title">Sign-off check</h3>
      <div id="signoff-summary" tabIndex={-1} data-testid="signoff-problems" className="signoff-summary">
        {blocking.length === 0 ? (
          <p className="ok-text">Nothing blocks signing.</p>
        ) : (
          <p className="error-text">
            {blocking.length} problem{blocking.length === 1 ? '' : 's'} block{blocking.length === 1 ? 's' : ''} signing:
          </p>
        )}
        {problems.length > 0 && (
          <ul className="problem-summary">
            {[...blocking, ...warnings].map((p, i) => (
              <li key={i} className={p.severity === 'block' ? 'problem-block' : 'problem-warn'}>
                <button type="button" className="link" onClick={() => focusField(p.fieldId, p.sectionId)}>
                  {p.severity === 'block' ? 'Blocks' : 'Check'} · {template?.sections.find((s) => s.id === p.sectionId)?.title ?? (p.sectionId === CARRIED_SECTION_ID ? CARRIED_OVER_TITLE : p.sectionId)}: {p.message}
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
      {action ? (
        <>
          <p className="signer">
            Signing as <strong>{profile.name}</strong>, {ROLE_LABELS[profile.role]}, registration {profile.registration}. Meaning: {action.meaning}.
          </p>
          <div className="sign-row">
            <button
              type="button"
              className="primary sign-button"
              data-testid="sign-button"
              data-transition={action.transition}
              disabled={!allowed || signing}
              onClick={onSign}
              aria-describedby="sign-blocked-reasons"
              aria-keyshortcuts="Control+Enter"
            >
              {signButtonLabel(action, blocking.length, signing)}
            </button>
            <kbd className="hint">Ctrl+Enter</kbd>
            <span id="sign-blocked-reasons" className="sr-only">
              {blockedDescription}
            </span>
          </div>
        </>
      ) : (
        <p className="signer" data-testid="no-sign">
          You are logged in as <strong>{profile.name}</strong>, {ROLE_LABELS[profile.role]}: this role does not sign reports.
        </p>
      )}
      <ErrorText error={error} />
    </section>
  );
}
