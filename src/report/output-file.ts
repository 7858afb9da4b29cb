import { randomBytes } from "node:crypto";
import { renameSync, unlinkSync, writeFileSync } from "node:fs";
import { lstat, mkdir, open, realpath, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { InputError } from "../config/errors.js";

/** An output the run will write when it ends: the flag or profile field that named it, and where. */
export interface OutputPath {
  /** `--out`, `--markdown`, `--prometheus-file`, or a profile's `outputs.out`, … */
  flag: string;
  path: string;
}

/** Why an output file could not be written, with the flag that named it (exit code in README "Exit codes"). */
export class OutputWriteError extends Error {
  constructor(
    readonly flag: string,
    readonly path: string,
    reason: string,
  ) {
    super(`${flag} ${path}: could not write the file: ${reason}`);
  }
}

function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const text = error instanceof Error ? error.message : String(error);
  // Node's messages repeat the syscall and path ("EACCES: permission denied, open '/x/.r.tmp'"):
  // the code and its words are enough, and the temporary name would only confuse.
  const words = text.replace(/^[A-Z]+: /, "").replace(/, \w+ '.*$/, "");
  return code ? `${words} (${code})` : words;
}

/**
 * The directory a file goes into, created one level at a time from its nearest existing
 * ancestor. Not `mkdir({ recursive: true })`: on Node 20 that call never settles for a path under
 * /proc that cannot exist (`/proc/no-such-dir`), at 100% CPU, where a plain `mkdir` says ENOENT.
 */
async function ensureDirectory(directory: string): Promise<void> {
  const missing: string[] = [];
  let current = directory;
  for (;;) {
    const found = await stat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (found) {
      if (!found.isDirectory()) throw new Error(`${current} is not a directory`);
      break;
    }
    const parent = dirname(current);
    if (parent === current) break;
    missing.unshift(current);
    current = parent;
  }
  for (const path of missing) {
    await mkdir(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw new Error(`cannot create directory ${path}: ${reasonOf(error)}`);
    });
  }
}

/** What already sits at `path`: nothing, or a regular file, may be replaced; anything else may not. */
async function refuseNonFile(path: string): Promise<void> {
  const found = await lstat(path).catch(() => undefined);
  if (found === undefined || found.isFile()) return;
  if (found.isDirectory()) throw new Error("is a directory (give a file name)");
  // A rename over /dev/null or a FIFO would replace that special file with ours.
  throw new Error("is not a regular file");
}

/**
 * The file a path names: through a symbolic link to the file it points at, so the rename
 * replaces that file and the link stays (a results.json linked into a shared folder).
 */
async function fileOf(path: string): Promise<string> {
  return realpath(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return path;
    throw error;
  });
}

/** Beside the target, so the final rename never crosses file systems; hidden, and unique per call. */
function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
}

async function writeExclusive(path: string, text: string): Promise<void> {
  const handle = await open(path, "wx");
  try {
    await handle.writeFile(text, "utf8");
  } finally {
    await handle.close();
  }
}

/**
 * Checks before the run that each output can be written: the directories exist or can be
 * created, a file can be created there, and the name is not a directory or a special file. It
 * creates the missing directories (the run would) and removes its probe file. Throws an
 * InputError naming the flag (exit 2, nothing sent yet).
 */
export async function checkOutputPaths(outputs: readonly OutputPath[]): Promise<void> {
  const seen = new Map<string, string>();
  for (const { flag, path } of outputs) {
    if (path.trim() === "") throw new InputError(flag, "must be a file path");
    const absolute = resolve(path);
    const earlier = seen.get(absolute);
    if (earlier !== undefined) throw new InputError(flag, `${path} is also the file of ${earlier}`);
    seen.set(absolute, flag);
    try {
      if (path.endsWith("/")) throw new Error("is a directory (give a file name)");
      const file = await fileOf(absolute);
      await refuseNonFile(file);
      await ensureDirectory(dirname(file));
      const probe = temporaryPathFor(file);
      await writeExclusive(probe, "");
      await unlink(probe);
    } catch (error) {
      throw new InputError(flag, `cannot write ${path}: ${reasonOf(error)}`);
    }
  }
}

/**
 * Writes `text` to `path` through a temporary file beside it and a rename, so a reader (CI, a
 * textfile collector) never sees half a file, and removes the temporary file when anything
 * fails. Throws an OutputWriteError naming the flag.
 */
export async function writeFileAtomic(output: OutputPath, text: string): Promise<void> {
  let temporary: string | undefined;
  try {
    const file = await fileOf(resolve(output.path));
    await refuseNonFile(file);
    await ensureDirectory(dirname(file));
    temporary = temporaryPathFor(file);
    await writeExclusive(temporary, text);
    await rename(temporary, file);
    temporary = undefined;
  } catch (error) {
    if (temporary !== undefined) await unlink(temporary).catch(() => undefined);
    throw new OutputWriteError(output.flag, output.path, reasonOf(error));
  }
}

/**
 * `writeFileAtomic`, synchronously, for a process that must quit at once (a second Ctrl-C, its
 * parent killed) and still leave its results. The path was checked before the run, so its
 * directory exists; nothing is created here.
 */
export function writeFileAtomicSync(path: string, text: string): void {
  const temporary = temporaryPathFor(resolve(path));
  try {
    writeFileSync(temporary, text, { flag: "wx" });
    renameSync(temporary, resolve(path));
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // nothing was left behind
    }
    throw error;
  }
}
