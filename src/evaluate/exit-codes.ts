/**
 * Documented, stable exit codes (README "Exit codes"). CI gates on these; never renumber.
 * Interrupted wins over the verdict because a partial run proves nothing either way; a lost
 * results file wins over the verdict because whatever reads that file next would fail.
 */
export const EXIT_CODES = {
  /** Verdict target or degraded: nothing critical. */
  ok: 0,
  /** An unexpected internal failure (a bug): the message says what happened. */
  internalError: 1,
  /** Invalid input: a flag, a value or a file was wrong; nothing was sent. */
  invalidInput: 2,
  /** The run completed and its verdict is critical (a threshold of the spec's table failed). */
  critical: 3,
  /** `--pushgateway-fatal`: the run was fine but its metrics could not be exported. */
  exportFailed: 4,
  /**
   * The run ended but a results file (`--out`, `--markdown`, `--prometheus-file`, a profile's
   * `outputs`) could not be written; every path was checked before the run, so this is a late
   * failure (disk full, directory removed). The summary on stdout still has the results.
   */
  writeFailed: 5,
  /** The run was interrupted (SIGINT/SIGTERM); partial results were still written. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];
