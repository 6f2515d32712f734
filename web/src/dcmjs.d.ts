/** The part of dcmjs (no bundled types) the console uses: Part 10 to and from naturalized datasets. */
declare module "dcmjs" {
  const dcmjs: {
    data: {
      DicomMessage: { readFile(buffer: ArrayBuffer): { dict: Record<string, unknown> } };
      DicomMetaDictionary: {
        naturalizeDataset(dict: Record<string, unknown>): Record<string, unknown>;
        denaturalizeDataset(ds: Record<string, unknown>): Record<string, unknown>;
      };
      DicomDict: new (
        meta: Record<string, unknown>,
      ) => { dict: Record<string, unknown>; write(): ArrayBuffer };
    };
  };
  export default dcmjs;
}
