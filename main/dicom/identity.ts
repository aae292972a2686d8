// Who a study belongs to (issue 7, line 1). A patient is Issuer of Patient ID (0010,0021) +
// Patient ID (0010,0020) + Patient's Name (0010,0010) + Birth Date (0010,0030) as the files give
// them: only DICOM padding and trailing empty name components are ignored, never case, spelling or
// a missing value. Two studies with the same issuer and ID but another name or birth date are two
// patients whose identities conflict; the same name and birth date under another ID or issuer are
// another patient, not a conflict. A study without a Patient ID is its own patient.

export interface PatientIdentity {
  issuer: string;
  patientId: string;
  patientName: string;
  birthDate: string;
}

/** A PN value without its padding and without trailing empty components or component groups. */
export function normalisePersonName(value: string): string {
  const groups = value
    .replace(/[\s\0]+$/, '')
    .split('=')
    .map((group) => {
      const components = group.split('^');
      while (components.length > 0 && components[components.length - 1] === '') components.pop();
      return components.join('^');
    });
  while (groups.length > 0 && groups[groups.length - 1] === '') groups.pop();
  return groups.join('=');
}

/** A text value (LO, DA) without DICOM padding (leading and trailing spaces, NULs). */
const unpadded = (value: string): string => value.replace(/^[\s\0]+|[\s\0]+$/g, '');

/**
 * The identity key stored in dicom_patient.patient_key. A study without a Patient ID gets a key of
 * its own (its Study Instance UID is part of it), so unrelated studies without an ID are never one
 * patient. Migration 0060 keys the studies of an older index with this function: changing it
 * needs a new migration that re-keys dicom_patient.
 */
export function identityKey(id: PatientIdentity, studyUid: string): string {
  const patientId = unpadded(id.patientId);
  const parts = [unpadded(id.issuer), patientId, normalisePersonName(id.patientName), unpadded(id.birthDate)];
  return JSON.stringify(patientId === '' ? ['no-patient-id', studyUid, ...parts] : parts);
}

export function sameIdentity(a: PatientIdentity, b: PatientIdentity): boolean {
  return identityKey(a, '') === identityKey(b, '');
}

const quoted = (name: string): string => (normalisePersonName(name) === '' ? 'no name' : `"${name}"`);
const born = (birthDate: string): string => (unpadded(birthDate) === '' ? 'no birth date' : `born ${birthDate}`);

/** "ID P1 (issuer "X"), "Doe^Jane", born 19700101" — how an identity is named in reasons. */
export function describeIdentity(id: PatientIdentity): string {
  const issuer = unpadded(id.issuer) === '' ? '' : `, issuer "${id.issuer}"`;
  return `${quoted(id.patientName)} (ID ${unpadded(id.patientId) === '' ? 'none' : id.patientId}${issuer}, ${born(id.birthDate)})`;
}

/** What differs between two identities with the same issuer and Patient ID. */
function difference(a: PatientIdentity, b: PatientIdentity): string {
  const name = normalisePersonName(a.patientName) !== normalisePersonName(b.patientName);
  const birth = unpadded(a.birthDate) !== unpadded(b.birthDate);
  return name && birth ? 'another name and birth date' : name ? 'another name' : 'another birth date';
}

/**
 * The sentence shown wherever `self` is shown when `others` (same issuer and Patient ID, another
 * name or birth date) are in the library too; null when there are none.
 */
export function conflictReason(self: PatientIdentity, others: readonly PatientIdentity[]): string | null {
  if (others.length === 0) return null;
  const issuer = unpadded(self.issuer) === '' ? 'no issuer' : `issuer "${self.issuer}"`;
  const list = others.map((o) => `${quoted(o.patientName)}, ${born(o.birthDate)} (${difference(self, o)})`).join('; and for ');
  return (
    `Identity conflict: Patient ID "${self.patientId}" (${issuer}) is also used in this library for ${list}. ` +
    `These studies are kept as a separate patient and never merged: check the patient's identity on the request before reporting.`
  );
}
