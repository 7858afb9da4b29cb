/**
 * Documented, stable exit codes (README "Exit codes"). CI gates on these; never renumber.
 * Interrupted wins over the verdict because a partial run proves nothing either way.
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
  /** The run was interrupted (SIGINT/SIGTERM); partial results were still written. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];
