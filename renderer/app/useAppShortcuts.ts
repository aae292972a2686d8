// The app-wide keys (listed in shortcuts.ts): Ctrl+O and Alt+L the library, Alt+R the report,
// Alt+I the images, Alt+U the unfinished reports, ? the key help. Off while a dialog is open, and
// for keys the viewer or a field already handled.
import { modalOpen, typingIn, useKeydown } from '../shortcuts.ts';
import type { View } from './useStudyNavigation.ts';

export interface AppShortcutTargets {
  /** False on the login and profile screens. */
  enabled: boolean;
  hasStudy: boolean;
  showLibrary(focusFolder: boolean): void;
  setView(v: View): void;
  openHelp(): void;
}

const later = (fn: () => void) => setTimeout(fn, 0);

export function useAppShortcuts({ enabled, hasStudy, showLibrary, setView, openHelp }: AppShortcutTargets): void {
  useKeydown((e) => {
    if (e.defaultPrevented || modalOpen() || !enabled) return;
    const alt = e.altKey && !e.ctrlKey;
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey && e.code === 'KeyO') {
      e.preventDefault();
      showLibrary(true);
    } else if (alt && e.code === 'KeyL') {
      e.preventDefault();
      showLibrary(false);
    } else if (alt && e.code === 'KeyR' && hasStudy) {
      e.preventDefault();
      setView('study');
      later(() => document.getElementById('report-title')?.closest('.report-pane')?.querySelector<HTMLElement>('textarea,input,select,button')?.focus());
    } else if (alt && e.code === 'KeyI' && hasStudy) {
      e.preventDefault();
      setView('study');
      later(() => document.querySelector<HTMLElement>('#images-pane [tabindex="0"], #images-pane canvas, #images-pane')?.focus());
    } else if (alt && e.code === 'KeyU') {
      e.preventDefault();
      setView('library');
      later(() => {
        const panel = document.querySelector<HTMLElement>('[data-testid="unfinished-panel"]');
        panel?.scrollIntoView({ block: 'start' });
        (panel?.querySelector<HTMLElement>('[data-testid="unfinished-item"] button') ?? panel?.querySelector<HTMLElement>('button'))?.focus();
      });
    } else if (e.key === '?' && !e.ctrlKey && !e.altKey && !typingIn(e.target)) {
      e.preventDefault();
      openHelp();
    }
  });
}
