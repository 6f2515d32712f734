/** The patient and study attributes a derived object (SR, SEG, Parametric Map) copies from its source image. */

/**
 * Patient and General Study module attributes (PS3.3 C.7.1.1, C.7.2.1) as DICOM keywords. A derived object in the
 * same study repeats them unchanged (PS3.3 C.7.2.1: same Study Instance UID, same patient).
 */
export interface StudyAttributes {
  readonly StudyInstanceUID: string;
  readonly PatientName?: string;
  readonly PatientID?: string;
  readonly PatientBirthDate?: string;
  readonly PatientSex?: string;
  readonly StudyDate?: string;
  readonly StudyTime?: string;
  readonly StudyID?: string;
  readonly AccessionNumber?: string;
  readonly ReferringPhysicianName?: string;
}
