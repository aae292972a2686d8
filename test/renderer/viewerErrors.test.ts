// Every viewer error a user can see is a sentence (issue 8 finding 15): the loader's and parser's
// failures, as engine.ts describeLoadError reduces them to text, become a sentence that says what
// happened and what to do, never the exception text itself.
import { describe, expect, it } from 'vitest';
import { imageErrorText, loadErrorSentence, NO_IMAGES_TEXT } from '../../renderer/viewer/errorText.ts';

/** Failures as the loader, dicom-parser, the codecs and the network give them (seen in the corpus e2e run and in the loader's source). */
const DETAILS = [
  'HTTP 404 Not Found',
  'HTTP 403 Forbidden',
  'HTTP 500 Internal Server Error',
  'download failed or was cancelled',
  'download error',
  'no image after 60 s (download or decoding stalled)',
  'No decoder for transfer syntax 1.2.840.10008.1.2.4.100',
  'The file does not contain image data.',
  'dicomParser.readFixedString: attempt to read past end of buffer',
  "dicomParser.parseDicom: parameter 'position' cannot be greater than or equal to 'byteArray' length",
  'dicomParser.readSequenceItem: item tag (FFFE,E000) not found at offset 1234',
  'decodeTask: JPEG-LS decoder failed: invalid marker',
  'OpenJPEG: failed to decode codestream',
  "Cannot read properties of undefined (reading 'length')",
  'the file could not be read',
  'unknown error',
  '',
];

const TECHNICAL = /dicomParser|undefined|TypeError|Error:|\[object|codestream|properties of|readFixedString|decodeTask|HTTP \d{3} [A-Z]/;

describe('viewer error text', () => {
  it.each(DETAILS)('"%s" becomes a sentence, not the exception text', (detail) => {
    const text = loadErrorSentence(detail);
    expect(text).toMatch(/^[A-Z][^]*\.$/);
    expect(text).not.toMatch(TECHNICAL);
  });

  it('says what to do for the failures a person can act on', () => {
    expect(loadErrorSentence('HTTP 404 Not Found')).toMatch(/moved or deleted.*Open its folder again/);
    expect(loadErrorSentence('HTTP 401 Unauthorized')).toMatch(/Reload the page/);
    expect(loadErrorSentence('dicomParser.readFixedString: attempt to read past end of buffer')).toMatch(/damaged or cut short/);
    expect(loadErrorSentence('No decoder for transfer syntax 1.2.840.10008.1.2.4.100')).toBe('The image is compressed in a format this viewer cannot decode (transfer syntax 1.2.840.10008.1.2.4.100).');
  });

  it('names the image by its place in the stack (and its frame), not by an internal file id', () => {
    expect(imageErrorText({ index: 4, count: 108, frame: null, frames: 1 }, 'HTTP 404 Not Found')).toBe(
      'Image 5 of 108 cannot be shown. The file is no longer where it was when the folder was opened (moved or deleted). Open its folder again.',
    );
    expect(imageErrorText({ index: 12, count: 96, frame: 12, frames: 96 }, 'unknown error')).toBe('Image 13 of 96 (frame 13 of 96) cannot be shown. The image could not be displayed.');
    expect(NO_IMAGES_TEXT).toMatch(/^[A-Z].*\.$/);
  });
});
