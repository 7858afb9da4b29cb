import { writeSync } from "node:fs";
import { EXIT_CODES } from "../evaluate/exit-codes.js";

/**
 * How a command ends early (README "Ctrl-C"). The first SIGINT or SIGTERM aborts the signal: the
 * run stops sending, waits a little for requests in flight, and writes its results as usual. A
 * second one, or the death of the process that started this one (parent-watch.ts), quits now:
 * the command's `onQuitNow` writer puts what was measured so far on stdout and into its files,
 * synchronously, and the process exits 130.
 */
export interface InterruptSession {
  readonly signal: AbortSignal;
  /** What quitting now writes (synchronously); replaces the previous writer. */
  onQuitNow(writer: () => void): void;
  /** Removes the signal handlers. */
  release(): void;
}

let quitWriter: (() => void) | undefined;
let current: InterruptSession | undefined;

/**
 * A new session for each run (a profile's phases run one after another); it ends the previous
 * one, and carries its interrupt over: a Ctrl-C between two phases stops the next one too.
 */
export function interruptSignal(): InterruptSession {
  const previous = current;
  previous?.release();
  const controller = new AbortController();
  let signals = 0;
  if (previous?.signal.aborted) {
    signals = 1;
    controller.abort();
  }
  const onSignal = (): void => {
    signals++;
    if (signals === 1) {
      writeStderr(
        "\nload-test: interrupted, finishing requests in flight and writing results (Ctrl-C again to quit now)\n",
      );
      controller.abort();
    } else {
      quitNow("interrupted again");
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const session: InterruptSession = {
    signal: controller.signal,
    onQuitNow: (writer) => (quitWriter = writer),
    release: () => {
      if (current !== session) return;
      current = quitWriter = undefined;
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
  current = session;
  return session;
}

/** Writes what the running command measured so far (if anything runs), then exits 130. */
export function quitNow(reason: string): never {
  const writer = quitWriter;
  quitWriter = undefined;
  if (writer) {
    writeStderr(`\nload-test: ${reason}: writing the results measured so far, then quitting\n`);
    try {
      writer();
    } catch (error) {
      writeStderr(`load-test: error: could not write the results: ${(error as Error).message}\n`);
    }
  }
  process.exit(EXIT_CODES.interrupted);
}

/** Synchronous, and never throws: stderr may be a pipe whose reader is already gone. */
export function writeStderr(text: string): void {
  writeQuietly(2, text);
}

export function writeStdout(text: string): void {
  writeQuietly(1, text);
}

function writeQuietly(fd: number, text: string): void {
  try {
    writeSync(fd, text);
  } catch {
    // EPIPE or EAGAIN: nobody reads it any more, and the files still get written.
  }
}
