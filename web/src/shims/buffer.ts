/** Browser stand-in for the one Node global the DICOM parser touches: nothing in a browser is a Node Buffer. */

declare global {
  var Buffer: { isBuffer(x: unknown): boolean };
}

globalThis.Buffer ??= { isBuffer: () => false };

export {};
