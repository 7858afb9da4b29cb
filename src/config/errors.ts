/** Invalid input: carries the flag or field so the CLI prints one line naming it (exit code 2). */
export class InputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}
