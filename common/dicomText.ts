// DICOM Person Name (PN) values as people read them, every component group included: the
// alphabetic group ("Yamada^Tarou"), then the ideographic ("山田^太郎") and phonetic ("やまだ^たろう")
// groups that Japanese, Korean and Chinese names carry after '=' (PS3.5 §6.2.1, Annexes H–J).
// Pure: no DOM, no node:*.

/** The five components of one group, trimmed: family, given, middle, prefix, suffix. */
function components(group: string): [string, string, string, string, string] {
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = group.split('^').map((c) => c.trim());
  return [family, given, middle, prefix, suffix];
}

/** An alphabetic group as "FAMILY, Prefix Given Middle Suffix" ('' when empty). */
function alphabetic(group: string): string {
  const [family, given, middle, prefix, suffix] = components(group);
  const rest = [prefix, given, middle, suffix].filter((c) => c !== '').join(' ');
  if (family === '') return rest;
  return rest ? `${family}, ${rest}` : family;
}

/** An ideographic or phonetic group in its own order, family name first: "山田 太郎" ('' when empty). */
function written(group: string): string {
  const [family, given, middle, prefix, suffix] = components(group);
  return [prefix, family, given, middle, suffix].filter((c) => c !== '').join(' ');
}

/**
 * A PN value for display: "Yamada, Tarou (山田 太郎, やまだ たろう)". The alphabetic group leads when
 * there is one; a name given only in ideographic or phonetic characters is shown in them, never
 * as "unknown". '' or only delimiters → "Name unknown".
 */
export function formatPersonName(pn: string): string {
  const [first = '', ideographic = '', phonetic = ''] = pn.split('=');
  const groups = [alphabetic(first), written(ideographic), written(phonetic)].filter((g) => g !== '');
  if (groups.length === 0) return 'Name unknown';
  const [lead, ...others] = groups;
  return others.length > 0 ? `${lead} (${others.join(', ')})` : lead!;
}
