/**
 * `load-test fly`: commander reads a word it does not know as the optional profile argument, and
 * loading it said "no such file". A bare word that names no file is a mistyped command far more
 * often than a profile without an extension, so it is answered as one (docs: README "Exit codes").
 */
import { closest } from "../config/thresholds.js";

/** A word, not a path: no directory separator, no extension (profiles are .yaml, .yml, .json). */
const WORD = /^[A-Za-z][A-Za-z0-9_-]*$/;

/**
 * The one-line error for a positional argument that looks like a command, or undefined when it
 * may be a profile path. `fileExists` says whether the argument names an existing file (an
 * extensionless profile that exists is still loaded).
 */
export function unknownCommandMessage(
  argument: string,
  commands: readonly string[],
  fileExists: boolean,
): string | undefined {
  if (fileExists || !WORD.test(argument)) return undefined;
  const nearest = closest(argument, commands);
  const suggestion = nearest
    ? `did you mean '${nearest}'?`
    : `did you mean one of ${commands.map((name) => `'${name}'`).join(", ")}?`;
  return `unknown command '${argument}'; ${suggestion} (a profile is a .yaml, .yml or .json file)`;
}
