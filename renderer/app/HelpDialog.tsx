// The keyboard shortcuts, shown by "?" (from the one list in shortcuts.ts).
import { Dialog } from '../Dialog.tsx';
import { CloseAction, TableHead } from '../Layout.tsx';
import { SHORTCUTS } from '../shortcuts.ts';

export function HelpDialog({ open, onClose }: { open: boolean; onClose(): void }) {
  return (
    <Dialog open={open} title="Keyboard shortcuts" onCancel={onClose} testId="help-dialog">
      <table className="data-table">
        <TableHead columns={['Keys', 'Action']} />
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr key={s.keys}>
              <td>
                <kbd>{s.keys}</kbd>
              </td>
              <td>{s.action}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">The image viewer has its own keys (window presets, scrolling); they work while the images have focus.</p>
      <CloseAction onClose={onClose} />
    </Dialog>
  );
}
