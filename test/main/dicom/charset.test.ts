// Specific Character Set (0008,0005): every defined term of PS3.5 §6.1 read as the standard says,
// with the examples of PS3.5 Annexes H (Japanese), I (Korean) and J (Chinese) written byte for
// byte into DICOM files and the patient's name asserted exactly.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../main/db/database.ts';
import { characterSets } from '../../../main/dicom/charset.ts';
import { DicomIndexService } from '../../../main/dicom/DicomIndexService.ts';
import { identityKey } from '../../../main/dicom/identity.ts';
import { parseDicomHeader } from '../../../main/dicom/parseHeader.ts';
import { image } from './synth.ts';

const ESC = 0x1b;
const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));
/** ESC $ B … ESC ( B: JIS X 0208 in G0. */
const jis = (...codes: number[]): number[] => [ESC, 0x24, 0x42, ...codes, ESC, 0x28, 0x42];

/** A file whose Specific Character Set and Patient's Name are these bytes; its name as the index reads it. */
function nameOf(charset: string, name: Uint8Array, tag = 0x00100010, vr = 'PN'): string {
  const h = parseDicomHeader(
    image({
      elements: [
        { tag: 0x00080005, vr: 'CS', value: charset },
        { tag, vr, value: name },
      ],
    }),
  );
  return tag === 0x00100010 ? h.patientName : h.studyDescription;
}

/** PS3.5 H.3: 山田^太郎=やまだ^たろう in JIS X 0208, each component switched in by ESC $ B and out by `back`. */
const yamadaKanjiKana = (back: number[]): (string | number[])[] => {
  const kanji = (...codes: number[]): number[] => [ESC, 0x24, 0x42, ...codes, ...back];
  return [kanji(0x3b, 0x33, 0x45, 0x44), '^', kanji(0x42, 0x40, 0x4f, 0x3a), '=', kanji(0x24, 0x64, 0x24, 0x5e, 0x24, 0x40), '^', kanji(0x24, 0x3f, 0x24, 0x6d, 0x24, 0x26)];
};
/** PS3.5 I.2: Hong^Gildong=洪^吉洞=홍^길동, KS X 1001 designated to G1 before each component. */
const KS = [ESC, 0x24, 0x29, 0x43];
const HONG = bytes('Hong^Gildong=', KS, [0xfb, 0xf3], '^', KS, [0xd1, 0xce, 0xd4, 0xd7], '=', KS, [0xc8, 0xab], '^', KS, [0xb1, 0xe6, 0xb5, 0xbf]);

describe('Specific Character Set: the examples of PS3.5 Annexes H, I and J', () => {
  it('Japanese, \\ISO 2022 IR 87 (H.3.1): JIS X 0208 switched in and out within the name', () => {
    const pn = bytes('Yamada^Tarou=', ...yamadaKanjiKana([ESC, 0x28, 0x42]));
    expect(nameOf('\\ISO 2022 IR 87', pn)).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
  });

  it('Japanese, ISO 2022 IR 13\\ISO 2022 IR 87 (H.3.2): half-width katakana, then kanji and hiragana, back to JIS X 0201 Roman', () => {
    const pn = bytes([0xd4, 0xcf, 0xc0, 0xde], '^', [0xc0, 0xdb, 0xb3], '=', ...yamadaKanjiKana([ESC, 0x28, 0x4a]));
    expect(nameOf('ISO 2022 IR 13\\ISO 2022 IR 87', pn)).toBe('ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう');
  });

  it('Korean, \\ISO 2022 IR 149 (I.2): KS X 1001 designated to G1 before each ideographic and phonetic component', () => {
    expect(nameOf('\\ISO 2022 IR 149', HONG)).toBe('Hong^Gildong=洪^吉洞=홍^길동');
  });

  it('Chinese, \\ISO 2022 IR 58 (J.3): GB 2312 designated to G1', () => {
    const gb = [ESC, 0x24, 0x29, 0x41];
    const pn = bytes('Zhang^XiaoDong=', gb, [0xd5, 0xc5], '^', gb, [0xd0, 0xa1, 0xb6, 0xab], '=');
    expect(nameOf('\\ISO 2022 IR 58', pn)).toBe('Zhang^XiaoDong=张^小东=');
  });

  it('Chinese, GB18030 (J.1) and GBK: no code extensions, two-byte characters as they are', () => {
    const pn = bytes('Wang^XiaoDong=', [0xcd, 0xf5], '^', [0xd0, 0xa1, 0xb6, 0xab], '=');
    expect(nameOf('GB18030', pn)).toBe('Wang^XiaoDong=王^小东=');
    expect(nameOf('GBK', pn)).toBe('Wang^XiaoDong=王^小东=');
    // A four-byte GB18030 sequence: 81 30 89 38 is U+00DF (ß), which GBK cannot encode.
    expect(nameOf('GB18030', bytes('Stra', [0x81, 0x30, 0x89, 0x38], 'e^Hans'))).toBe('Straße^Hans');
  });

  it('UTF-8, ISO_IR 192', () => {
    expect(nameOf('ISO_IR 192', new TextEncoder().encode('Wang^XiaoDong=王^小東='))).toBe('Wang^XiaoDong=王^小東=');
  });
});

describe('Specific Character Set: every defined term', () => {
  // One characteristic letter per set, at its byte in that set.
  const single: [ir: string, byte: number, letter: string, escape: string][] = [
    ['100', 0xfc, 'ü', '-A'],
    ['101', 0xa3, 'Ł', '-B'],
    ['109', 0xa1, 'Ħ', '-C'],
    ['110', 0xa1, 'Ą', '-D'],
    ['144', 0xb6, 'Ж', '-L'],
    ['127', 0xd9, 'ع', '-G'],
    ['126', 0xd9, 'Ω', '-F'],
    ['138', 0xe0, 'א', '-H'],
    ['148', 0xde, 'Ş', '-M'],
    ['203', 0xa4, '€', '-b'],
    ['166', 0xa1, 'ก', '-T'],
  ];

  it.each(single)('ISO_IR %s, alone, as ISO 2022 and designated by escape: byte %i is %s', (ir, byte, letter, escape) => {
    expect(nameOf(`ISO_IR ${ir}`, bytes('A^', [byte]))).toBe(`A^${letter}`);
    expect(nameOf(`ISO 2022 IR ${ir}`, bytes('A^', [byte]))).toBe(`A^${letter}`);
    expect(nameOf(`ISO 2022 IR 6\\ISO 2022 IR ${ir}`, bytes('A^', [ESC, ...bytes(escape)], [byte]))).toBe(`A^${letter}`);
  });

  it('ISO_IR 13 and ISO 2022 IR 13: JIS X 0201 katakana in G1', () => {
    expect(nameOf('ISO_IR 13', bytes([0xb1, 0xb2]))).toBe('ｱｲ');
    expect(nameOf('ISO 2022 IR 13', bytes('A^', [0xb1]))).toBe('A^ｱ');
  });

  it('ISO 2022 IR 159: JIS X 0212 supplementary kanji, switched from JIS X 0208', () => {
    const pn = bytes(jis(0x3b, 0x33), [ESC, 0x24, 0x28, 0x44, 0x30, 0x21, ESC, 0x28, 0x42]);
    expect(nameOf('\\ISO 2022 IR 87\\ISO 2022 IR 159', pn)).toBe('山丂');
  });

  it('two ISO 8859 parts in one value (ISO 2022 IR 100\\ISO 2022 IR 144): each component starts again in Latin-1', () => {
    const pn = bytes('M', [0xfc], 'ller^', [ESC, 0x2d, 0x4c, 0xbb, 0xee, 0xda], '^', [0xe9]);
    expect(nameOf('ISO 2022 IR 100\\ISO 2022 IR 144', pn)).toBe('Müller^Люк^é');
  });

  it('never splits a two-byte JIS X 0208 character whose second byte is "=", "^" or "\\"', () => {
    // 表 is 49 3D ("I=") and 府 is 49 5C ("I\\") in JIS X 0208.
    expect(nameOf('\\ISO 2022 IR 87', bytes('A=', jis(0x49, 0x3d, 0x49, 0x5c)))).toBe('A=表府');
  });

  it('reads other text VRs (LO) with the same sets: a Study Description in Korean', () => {
    expect(nameOf('\\ISO 2022 IR 149', bytes('CT ', KS, [0xc8, 0xab]), 0x00081030, 'LO')).toBe('CT 홍');
  });

  it('accepts terms written in lower case or with extra spaces, and reads a file that names its G1 set but never escapes to it', () => {
    expect(nameOf('iso 2022  ir 149', bytes([0xc8, 0xab]))).toBe('홍');
    expect(nameOf('\\ISO 2022 IR 149', bytes('Hong=', [0xc8, 0xab]))).toBe('Hong=홍');
  });

  it('shows bytes it cannot know as U+FFFD under an unknown term (visibly wrong, never another name)', () => {
    const cs = characterSets('ISO_IR 999');
    expect(cs.unknown).toEqual(['ISO_IR 999']);
    expect(cs.decode(bytes('Ab', [0xe9]), true)).toBe('Ab\uFFFD');
    expect(nameOf('ISO_IR 999', bytes('Ab', [0xe9]))).toBe('Ab\uFFFD');
  });

  it('reads the default repertoire (no Specific Character Set) as before: ASCII, other bytes as ISO 8859-1', () => {
    expect(characterSets(null).decode(bytes('Ren', [0xe9]))).toBe('René');
  });
});

describe('an index whose names an older version misread', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-charset-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const garbled = 'Hong^Gildong=$)C\u00fb\u00f3^$)C\u00d1\u00ce\u00d4\u00d7=$)C\u00c8\u00ab^$)C\u00b1\u00e6\u00b5\u00bf';
  const file = (name: string, birth: string): string => {
    const p = path.join(tmp, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(
      p,
      image({
        sop: `7.${path.basename(name).length}.1`,
        study: '7.1',
        series: '7.1.1',
        patientId: 'K1',
        elements: [
          { tag: 0x00080005, vr: 'CS', value: '\\ISO 2022 IR 149' },
          { tag: 0x00100010, vr: 'PN', value: HONG },
          { tag: 0x00100030, vr: 'DA', value: birth },
        ],
      }),
    );
    return p;
  };

  it('reads the names again and binds the study to the name its files really hold (no report of it yet)', async () => {
    const db = openDatabase(':memory:');
    const index = new DicomIndexService(db);
    const dir = path.dirname(file('a/a.dcm', '19700101'));
    await index.indexFolder(dir);
    // As version 2 left it: the name read garbled, bound, keyed and kept per study.
    const key = identityKey({ issuer: '', patientId: 'K1', patientName: garbled, birthDate: '19700101' }, '7.1');
    db.prepare('UPDATE dicom_instance SET header_version = 2').run();
    db.prepare('UPDATE dicom_study SET patient_name = ?').run(garbled);
    db.prepare('UPDATE dicom_study_binding SET patient_name = ?, patient_key = ?').run(garbled, key);
    db.prepare('UPDATE dicom_patient SET patient_name = ?, patient_key = ?').run(garbled, key);
    expect(index.study('7.1')!.patientName).toBe(garbled);

    const r = await index.indexFolder(dir);
    expect(r.errors).toEqual([]);
    expect(index.study('7.1')!.patientName).toBe('Hong^Gildong=洪^吉洞=홍^길동');
    expect(index.exam('7.1')!.patientName).toBe('Hong^Gildong=洪^吉洞=홍^길동');
    expect(index.listPatients().map((p) => p.patientName)).toEqual(['Hong^Gildong=洪^吉洞=홍^길동']);
    db.close();
  });

  it('still refuses a file of the study that names another birth date: only the misread name is corrected', async () => {
    const db = openDatabase(':memory:');
    const index = new DicomIndexService(db);
    const first = file('b/b.dcm', '19700101');
    await index.indexFolder(path.dirname(first));
    db.prepare('UPDATE dicom_instance SET header_version = 2').run();
    const other = file('b/other.dcm', '19800101');
    const r = await index.indexFolder(path.dirname(other));
    expect(r.errors.find((e) => e.path === other)?.reason).toMatch(/belongs to one patient/);
    db.close();
  });
});
