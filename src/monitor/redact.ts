/**
 * Secrets out of log lines before the results keep them (docs/MONITOR.md "Log files"): bearer
 * tokens, Authorization headers, key=value secrets, `sk-…` API keys and URL credentials.
 */
const RULES: Array<[RegExp, string]> = [
  [/(authorization\s*[:=]\s*)("?)[^"\r\n]*/gi, "$1$2[redacted]"],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi, "$1 [redacted]"],
  [
    /\b([A-Za-z0-9_-]*(?:api[_-]?key|token|secret|password|passwd|pwd|credential)s?)("?\s*[:=]\s*"?)[^\s"',&;}]+/gi,
    "$1$2[redacted]",
  ],
  [/\bsk-[A-Za-z0-9_-]{8,}/g, "[redacted]"],
  [/(\/\/)[^/@\s:]+:[^/@\s]+@/g, "$1[redacted]@"],
];

/** Longest line kept, in characters: a log line can be a whole request dump. */
const MAX_LINE_CHARS = 500;

export function redactLine(line: string): string {
  let out = line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}
