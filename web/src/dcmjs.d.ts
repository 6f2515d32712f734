/** The part of dcmjs (no bundled types) the console uses: reading Part 10 into a naturalized dataset. */
declare module "dcmjs" {
  const dcmjs: {
    data: {
      DicomMessage: { readFile(buffer: ArrayBuffer): { dict: Record<string, unknown> } };
      DicomMetaDictionary: { naturalizeDataset(dict: Record<string, unknown>): Record<string, unknown> };
    };
  };
  export default dcmjs;
}
