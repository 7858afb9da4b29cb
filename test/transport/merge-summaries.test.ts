import { describe, expect, it } from "vitest";
import { parseTransportFlags } from "../../src/config/transport-options.js";
import { ConnectionRecorder } from "../../src/transport/connections.js";
import { HttpTransport, mergeTransportSummaries, type TransportSummary } from "../../src/transport/http.js";

/** `--threads`: each thread's transport summary merged into one (docs/TRANSPORT.md "Threads"). */
function threadSummary(
  retried: TransportSummary["retried"],
  serverMaxStreams: number | null,
): TransportSummary {
  const url = new URL("http://127.0.0.1:9");
  const transport = new HttpTransport(
    {
      origin: url.origin,
      connections: 8,
      maxInFlight: 8,
      timeoutMs: 1_000,
      flags: parseTransportFlags({ h2c: true }, url, 8),
    },
    () => 0,
  );
  const summary = transport.transportSummary();
  return { ...summary, retried, connections: { ...summary.connections, serverMaxStreams } };
}

describe("merging the threads' transport summaries", () => {
  it("adds the retries by reason and keeps the lowest server stream limit", () => {
    const merged = mergeTransportSummaries(
      [
        threadSummary({ total: 3, byReason: { goaway: 2, refused_stream: 1 } }, 100),
        threadSummary({ total: 0, byReason: {} }, null),
        threadSummary({ total: 5, byReason: { goaway: 4, idle_close: 1 } }, 2),
      ].map((summary) => ({ summary, connections: new ConnectionRecorder().state() })),
    );
    expect(merged.retried).toEqual({ total: 8, byReason: { goaway: 6, refused_stream: 1, idle_close: 1 } });
    expect(merged.connections.serverMaxStreams).toBe(2);
  });

  it("no thread heard a limit: null", () => {
    const merged = mergeTransportSummaries(
      [threadSummary({ total: 0, byReason: {} }, null), threadSummary({ total: 0, byReason: {} }, null)].map(
        (summary) => ({ summary, connections: new ConnectionRecorder().state() }),
      ),
    );
    expect(merged.retried).toEqual({ total: 0, byReason: {} });
    expect(merged.connections.serverMaxStreams).toBeNull();
  });
});
