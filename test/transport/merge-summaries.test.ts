import { describe, expect, it } from "vitest";
import { parseTransportFlags } from "../../src/config/transport-options.js";
import { ConnectionRecorder } from "../../src/transport/connections.js";
import { HttpTransport, mergeTransportSummaries, type TransportSummary } from "../../src/transport/http.js";

/** `--threads`: each thread's transport summary merged into one (docs/TRANSPORT.md "Threads"). */
function threadSummary(serverMaxStreams: number | null): TransportSummary {
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
  return { ...summary, connections: { ...summary.connections, serverMaxStreams } };
}

/** A thread's connection measurements after `retries` requests were sent again, by reason. */
function threadConnections(retries: Record<string, number>): ReturnType<ConnectionRecorder["state"]> {
  const recorder = new ConnectionRecorder();
  for (const [reason, count] of Object.entries(retries))
    for (let i = 0; i < count; i++) recorder.retry(reason);
  return recorder.state();
}

describe("merging the threads' transport summaries", () => {
  it("adds the retries by reason and keeps the lowest server stream limit", () => {
    const merged = mergeTransportSummaries([
      { summary: threadSummary(100), connections: threadConnections({ goaway: 2, refused_stream: 1 }) },
      { summary: threadSummary(null), connections: threadConnections({}) },
      { summary: threadSummary(2), connections: threadConnections({ goaway: 4, idle_close: 1 }) },
    ]);
    expect(merged.retried).toEqual({ total: 8, byReason: { goaway: 6, refused_stream: 1, idle_close: 1 } });
    expect(merged.connections.serverMaxStreams).toBe(2);
  });

  it("no thread heard a limit: null", () => {
    const merged = mergeTransportSummaries(
      [threadSummary(null), threadSummary(null)].map((summary) => ({
        summary,
        connections: threadConnections({}),
      })),
    );
    expect(merged.retried).toEqual({ total: 0, byReason: {} });
    expect(merged.connections.serverMaxStreams).toBeNull();
  });
});
