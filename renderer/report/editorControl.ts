/** What the app asks of the open report before it leaves the study. */
export interface EditorControl {
  /** Unsigned work that leaving would abandon: a draft holding the reporter's text, or an addendum being written. */
  unsignedWork(): 'draft' | 'addendum' | null;
  /** Saves now; true when all text is stored. */
  flush(): Promise<boolean>;
  /** Saves, and tells main the editor closed the draft (published to the team); the editor is then done. True when stored. */
  leave(): Promise<boolean>;
}
