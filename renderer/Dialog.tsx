// A modal dialog on the native <dialog> element: the browser traps focus, Escape cancels,
// and the page behind is inert. Used instead of window.confirm (which blocks and can't be styled).
import { useEffect, useId, useRef, type ReactNode } from 'react';

export interface DialogProps {
  open: boolean;
  title: string;
  onCancel(): void;
  children: ReactNode;
  testId?: string;
  /** 'alertdialog' for questions that need an answer before work continues. */
  role?: 'dialog' | 'alertdialog';
  wide?: boolean;
}

export function Dialog({ open, title, onCancel, children, testId, role, wide }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  if (!open) return null;
  return (
    <dialog
      ref={ref}
      className={wide ? 'dialog dialog-wide' : 'dialog'}
      aria-labelledby={titleId}
      role={role}
      data-testid={testId}
      onCancel={(e) => {
        e.preventDefault();
        onCancel();
      }}
    >
      <h2 id={titleId} className="dialog-title">
        {title}
      </h2>
      {children}
    </dialog>
  );
}
