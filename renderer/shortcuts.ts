// Keyboard shortcuts: one list (shown in the help dialog) and small helpers for the handlers.
import { useEffect, useEffectEvent } from 'react';

export interface ShortcutHelp {
  keys: string;
  action: string;
}

export const SHORTCUTS: readonly ShortcutHelp[] = [
  { keys: 'Ctrl+Enter', action: 'Sign the report (when nothing blocks signing)' },
  { keys: 'Alt+1 … Alt+7', action: 'Jump to report section 1 … 7 (clinical question … alert code)' },
  { keys: 'Alt+P', action: 'Jump to the sign-off problems list' },
  { keys: 'Alt+I', action: 'Jump to the images' },
  { keys: 'Ctrl+O', action: 'Open a folder of DICOM files (library)' },
  { keys: 'Alt+L', action: 'Show the library' },
  { keys: 'Alt+R', action: 'Show the current study and report' },
  { keys: 'Ctrl+Shift+A', action: 'Add an addendum to a signed report' },
  { keys: 'Ctrl+S', action: 'Save the draft now (it also saves itself within 1 second)' },
  { keys: 'Alt+U', action: 'Show the unfinished reports of the department' },
  { keys: '?', action: 'Show this help' },
  { keys: 'Escape', action: 'Close a dialog' },
  { keys: 'Tab / Shift+Tab', action: 'Move between fields; arrow keys move within a choice' },
];

/** True while a modal dialog is open: page shortcuts are then off. */
export function modalOpen(): boolean {
  return document.querySelector('dialog[open]') !== null;
}

/** True when the key goes to a text field (so plain keys like "?" are typing, not commands). */
export function typingIn(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) return !['radio', 'checkbox', 'button', 'submit', 'reset', 'file', 'range'].includes(target.type);
  return false;
}

/** The digit of Alt+digit (by physical key, so layouts and macOS Option characters don't matter). */
export function altDigit(e: KeyboardEvent): number | null {
  if (!e.altKey || e.ctrlKey || e.metaKey) return null;
  const m = /^(?:Digit|Numpad)([1-9])$/.exec(e.code);
  return m ? Number(m[1]) : null;
}

/** Subscribes a window keydown handler (the latest closure is always used). */
export function useKeydown(handler: (e: KeyboardEvent) => void): void {
  const onKey = useEffectEvent(handler);
  useEffect(() => {
    const listener = (e: KeyboardEvent) => onKey(e);
    window.addEventListener('keydown', listener);
    return () => window.removeEventListener('keydown', listener);
  }, []);
}

/** True when the element is not displayed (e.g. its view is hidden): its shortcuts are then off. */
export function paneHidden(el: HTMLElement | null): boolean {
  return !el || el.offsetParent === null;
}

/** Moves focus to the first focusable element inside `el` (or `el` itself). */
export function focusFirstIn(el: HTMLElement | null): void {
  if (!el) return;
  const target = el.querySelector<HTMLElement>('input:not([disabled]), textarea:not([disabled]), select:not([disabled]), button:not([disabled]), [tabindex]:not([tabindex="-1"])');
  (target ?? el).focus();
  (target ?? el).scrollIntoView({ block: 'nearest' });
}
