// Keyboard map of the image viewer: every action is reachable without the mouse. Pure (no DOM),
// so the key help shown in the viewer is generated from the same table the handler uses.
import { FILE_WINDOW_KEY, WINDOW_PRESETS, presetForKey } from '../../common/windowPresets.ts';

export type ViewerAction =
  | { type: 'scroll'; delta: number }
  | { type: 'scrollPage'; direction: 1 | -1 }
  | { type: 'first' }
  | { type: 'last' }
  | { type: 'preset'; id: string; width: number; center: number }
  | { type: 'fileWindow' }
  | { type: 'window'; dWidth: number; dCenter: number }
  | { type: 'invert' }
  | { type: 'reset' }
  | { type: 'zoom'; factor: number }
  | { type: 'pan'; dx: number; dy: number }
  | { type: 'help' };

export interface KeyInput {
  key: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  altKey: boolean;
  metaKey: boolean;
}

const PAN_STEP = 24;

/** The action for a key press, or null (let the event through). */
export function actionForKey(e: KeyInput): ViewerAction | null {
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  if (e.shiftKey) {
    switch (e.key) {
      case 'ArrowLeft':
        return { type: 'pan', dx: -PAN_STEP, dy: 0 };
      case 'ArrowRight':
        return { type: 'pan', dx: PAN_STEP, dy: 0 };
      case 'ArrowUp':
        return { type: 'pan', dx: 0, dy: -PAN_STEP };
      case 'ArrowDown':
        return { type: 'pan', dx: 0, dy: PAN_STEP };
      default:
        break;
    }
  }
  switch (e.key) {
    case 'ArrowDown':
    case 'ArrowRight':
      return { type: 'scroll', delta: 1 };
    case 'ArrowUp':
    case 'ArrowLeft':
      return { type: 'scroll', delta: -1 };
    case 'PageDown':
      return { type: 'scrollPage', direction: 1 };
    case 'PageUp':
      return { type: 'scrollPage', direction: -1 };
    case 'Home':
      return { type: 'first' };
    case 'End':
      return { type: 'last' };
    case FILE_WINDOW_KEY:
      return { type: 'fileWindow' };
    case 'i':
    case 'I':
      return { type: 'invert' };
    case 'r':
    case 'R':
      return { type: 'reset' };
    case '+':
    case '=':
      return { type: 'zoom', factor: 1.25 };
    case '-':
    case '_':
      return { type: 'zoom', factor: 0.8 };
    case '[':
      return { type: 'window', dWidth: -1, dCenter: 0 };
    case ']':
      return { type: 'window', dWidth: 1, dCenter: 0 };
    case ',':
      return { type: 'window', dWidth: 0, dCenter: -1 };
    case '.':
      return { type: 'window', dWidth: 0, dCenter: 1 };
    case '?':
    case 'h':
    case 'H':
      return { type: 'help' };
    default: {
      const p = presetForKey(e.key);
      return p ? { type: 'preset', id: p.id, width: p.width, center: p.center } : null;
    }
  }
}

/** Rows of the key help panel. */
export const KEY_HELP: readonly { keys: string; action: string }[] = [
  { keys: '↑ ↓ ← → / wheel', action: 'previous / next image' },
  { keys: 'PgUp PgDn', action: 'jump 10% of the stack' },
  { keys: 'Home End', action: 'first / last image' },
  ...WINDOW_PRESETS.map((p) => ({ keys: p.key, action: `${p.label} window (W ${p.width} L ${p.center})` })),
  { keys: FILE_WINDOW_KEY, action: "the file's own window" },
  { keys: '[ ]', action: 'narrower / wider window' },
  { keys: ', .', action: 'lower / higher level' },
  { keys: 'drag', action: 'window/level (left), pan (middle or Shift), zoom (right or Ctrl)' },
  { keys: '+ −', action: 'zoom in / out' },
  { keys: 'Shift + arrows', action: 'pan' },
  { keys: 'i', action: 'invert' },
  { keys: 'r', action: 'reset view' },
  { keys: '? / h', action: 'show / hide this help' },
];
