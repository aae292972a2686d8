// What the viewer says when an image cannot be shown: a sentence a radiologist can act on, never
// the loader's or parser's exception text (which stays available as `detail` for support). Pure:
// no cornerstone, no DOM; the loader's rejection is first reduced to text by engine.ts
// describeLoadError.

export interface EntryPosition {
  /** 0-based position in the stack. */
  index: number;
  /** Stack length. */
  count: number;
  /** 0-based frame of a multi-frame file, or null. */
  frame: number | null;
  frames: number;
}

/** Ordered: the first rule whose pattern matches the detail gives the sentence. */
const RULES: [RegExp, (m: RegExpExecArray) => string][] = [
  [/^HTTP (404|410)\b/, () => 'The file is no longer where it was when the folder was opened (moved or deleted). Open its folder again.'],
  [/^HTTP (401|403)\b/, () => 'The workstation refused to send the file: the session may have ended. Reload the page and log in again.'],
  [/^HTTP (\d+)/, (m) => `The workstation could not send the file (HTTP error ${m[1]}). Try again; if it persists, open the folder again.`],
  [/download (failed|error|abort)|was cancelled|download timeout/i, () => 'The file could not be downloaded from the workstation. Try again.'],
  [/^no image after (\d+) s/, (m) => `The image did not load within ${m[1]} seconds (download or decoding stalled). Scroll away and back to try again.`],
  [/No decoder for transfer syntax ([0-9.]+)/, (m) => `The image is compressed in a format this viewer cannot decode (transfer syntax ${m[1]}).`],
  [/does not contain image data|no pixel data/i, () => 'The file holds no image to display.'],
  [
    /past end of buffer|buffer overread|truncated|cut off|item tag|unexpected end|byteArray length|dicomParser/i,
    () => 'The file is damaged or cut short, so its image cannot be read. Have it sent again.',
  ],
  [
    /decod|jpeg|j2k|jpeg-?ls|openjpeg|charls|rle|codec|wasm|worker/i,
    () => 'The image data could not be decoded: it may be damaged, or compressed in a variant this viewer does not support.',
  ],
];

/** The sentence for a loader failure's technical detail (engine.ts describeLoadError). */
export function loadErrorSentence(detail: string): string {
  for (const [pattern, sentence] of RULES) {
    const m = pattern.exec(detail);
    if (m) return sentence(m);
  }
  return 'The image could not be displayed.';
}

/** "Image 5 of 108 cannot be shown. <sentence>" (with the frame of a multi-frame file). */
export function imageErrorText(at: EntryPosition, detail: string): string {
  const frame = at.frame === null ? '' : ` (frame ${at.frame + 1} of ${at.frames})`;
  return `Image ${at.index + 1} of ${at.count}${frame} cannot be shown. ${loadErrorSentence(detail)}`;
}

/** Shown for a stack with no images. */
export const NO_IMAGES_TEXT = 'This series has no images the viewer can show.';
