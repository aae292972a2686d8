// CT window/level presets (Hounsfield units), bound to the number keys 1–8 in the image viewer;
// key 0 restores the file's own window (from its header, or the viewer's default for the image).
// Values follow the commonly published CT windows (e.g. Radiopaedia, "Windowing (CT)": brain
// W80 L40, subdural W215 L75 (range W130–300 L50–100), stroke W40 L40 (narrower W8 L32 also in
// use), lungs W1500 L−600, mediastinum W350 L50, soft tissue / abdomen W400 L40, liver W160 L60,
// bone W1800 L400). Pure data: the viewer maps them to cornerstone viewports.

export interface WindowPreset {
  /** Stable id (used in tests and UI). */
  id: string;
  /** Label shown in the key help and the overlay. */
  label: string;
  /** The key (a digit) that applies this preset. */
  key: string;
  /** Window width (HU), > 0. */
  width: number;
  /** Window centre / level (HU). */
  center: number;
}

export const WINDOW_PRESETS: readonly WindowPreset[] = [
  { id: 'brain', label: 'Brain', key: '1', width: 80, center: 40 },
  { id: 'subdural', label: 'Subdural', key: '2', width: 215, center: 75 },
  { id: 'stroke', label: 'Stroke', key: '3', width: 40, center: 40 },
  { id: 'lung', label: 'Lung', key: '4', width: 1500, center: -600 },
  { id: 'mediastinum', label: 'Mediastinum', key: '5', width: 350, center: 50 },
  { id: 'abdomen', label: 'Abdomen', key: '6', width: 400, center: 40 },
  { id: 'liver', label: 'Liver', key: '7', width: 160, center: 60 },
  { id: 'bone', label: 'Bone', key: '8', width: 1800, center: 400 },
];

/** The key that restores the file's own window/level. */
export const FILE_WINDOW_KEY = '0';

export function presetForKey(key: string): WindowPreset | undefined {
  return WINDOW_PRESETS.find((p) => p.key === key);
}
