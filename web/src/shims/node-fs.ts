/** Browser stand-in for node:fs: the console parses bytes it already holds, never paths. */

/**
 * Always throws: there is no file system in the browser.
 *
 * @example
 * ```ts
 * readFileSync("x"); // throws: the browser build has no file system
 * ```
 */
export function readFileSync(_path: string): Uint8Array {
  throw new Error("no file system in the browser: pass the file's bytes");
}

/**
 * Always throws: there is no file system in the browser.
 *
 * @example
 * ```ts
 * statSync("x"); // throws: the browser build has no file system
 * ```
 */
export function statSync(_path: string): { isFile(): boolean; readonly size: number } {
  throw new Error("no file system in the browser: pass the file's bytes");
}
