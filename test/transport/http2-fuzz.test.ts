import { describe, expect, it } from "vitest";
import { parseTransportFlags } from "../../src/config/transport-options.js";
import { analyzeTransportError } from "../../src/transport/errors.js";
import type { HttpTransport } from "../../src/transport/http.js";
import { decodeResponseBlock, HpackError } from "../../src/transport/hpack.js";
import {
  CONTINUATION,
  DATA,
  END_HEADERS,
  END_STREAM,
  GOAWAY,
  HEADERS,
  PADDED,
  PING,
  PRIORITY_FLAG,
  RST_STREAM,
  SETTINGS,
  WINDOW_UPDATE,
  rawFrame,
  startRawH2Server,
  statusBlock,
  u32,
  type RawConnection,
} from "../helpers/h2-raw-server.js";
import { transportFor } from "../helpers/servers.js";
import { cleanupAfterEach } from "../helpers/cleanups.js";

/**
 * Frame-level fuzzing of our HTTP/2 client (src/transport/http2-session.ts) and HPACK decoder:
 * a raw server on loopback answers requests with crafted, malformed frames. Every malformed
 * input must end as a classified error of the requests on that connection (protocol.*; a
 * connection cut inside a frame is one too), never a crash, a hang, an uncaught exception or a
 * lost request: every request sent gets exactly one outcome, and the next request, on the same
 * connection after a stream error or on a new one after a connection error, succeeds.
 *
 * Seeded (mulberry32): a failure names its seed and iteration, so it reproduces.
 */
const SEED = Number(process.env.H2_FUZZ_SEED ?? 0x5eed2026);
const ITERATIONS = Number(process.env.H2_FUZZ_ITERATIONS ?? 1000);

function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const int = (random: Random, low: number, high: number): number =>
  low + Math.floor(random() * (high - low + 1));
const bytes = (random: Random, length: number): Buffer =>
  Buffer.from(Array.from({ length }, () => int(random, 0, 255)));
const pick = <T>(random: Random, items: readonly T[]): T => items[int(random, 0, items.length - 1)] as T;

/** What a malformed answer must end as: a protocol error, or (random bytes) any classified failure. */
type Expect = "protocol" | "failure";

interface Case {
  name: string;
  /** The bytes the server writes after the request's HEADERS (stream `id`). */
  frames(id: number): Buffer;
  /** The server ends the connection after writing them (a truncated frame needs the end to show). */
  end: boolean;
  expect: Expect;
}

const ok = (id: number): Buffer =>
  Buffer.concat([
    rawFrame(HEADERS, END_HEADERS, id, statusBlock(200)),
    rawFrame(DATA, END_STREAM, id, Buffer.from("ok")),
  ]);

/** The malformed answers, each drawn with its own random parts. */
function cases(random: Random): Case[] {
  const headers = (id: number): Buffer => rawFrame(HEADERS, END_HEADERS, id, statusBlock(200));
  return [
    {
      name: "frame larger than SETTINGS_MAX_FRAME_SIZE",
      frames: (id) => {
        const header = rawFrame(pick(random, [DATA, HEADERS, PING, 0xfa]), 0, id).subarray(0, 9);
        header.writeUIntBE(int(random, 16_385, 2 ** 24 - 1), 0, 3);
        return Buffer.concat([header, bytes(random, int(random, 0, 64))]);
      },
      end: false,
      expect: "protocol",
    },
    {
      name: "padding longer than the frame",
      frames: (id) => {
        const type = pick(random, [DATA, HEADERS]);
        const payload = bytes(random, int(random, 1, 20));
        payload[0] = payload.length + int(random, 0, 200);
        return Buffer.concat([
          type === DATA ? headers(id) : Buffer.alloc(0),
          rawFrame(type, PADDED | END_HEADERS, id, payload),
        ]);
      },
      end: false,
      expect: "protocol",
    },
    {
      name: "HEADERS with the PRIORITY flag and no room for its fields",
      frames: (id) => rawFrame(HEADERS, END_HEADERS | PRIORITY_FLAG, id, bytes(random, int(random, 0, 4))),
      end: false,
      expect: "protocol",
    },
    {
      name: "padded frame without its pad length",
      frames: (id) => Buffer.concat([headers(id), rawFrame(DATA, PADDED, id)]),
      end: false,
      expect: "protocol",
    },
    {
      name: "HEADERS or DATA on a stream the client did not open",
      frames: (id) => {
        const stream = pick(random, [0, id + 1, id + 2 * int(random, 1, 50), 2 ** 31 - 1]);
        return pick(random, [HEADERS, DATA]) === HEADERS
          ? headers(stream)
          : rawFrame(DATA, END_STREAM, stream, Buffer.from("x"));
      },
      end: false,
      expect: "protocol",
    },
    {
      name: "connection window over 2^31-1",
      frames: () =>
        Buffer.concat([
          rawFrame(WINDOW_UPDATE, 0, 0, u32(0x7fffffff)),
          rawFrame(WINDOW_UPDATE, 0, 0, u32(0x7fffffff)),
        ]),
      end: false,
      expect: "protocol",
    },
    {
      name: "stream window over 2^31-1, or an increment of 0",
      frames: (id) =>
        random() < 0.5
          ? Buffer.concat([
              rawFrame(WINDOW_UPDATE, 0, id, u32(0x7fffffff)),
              rawFrame(WINDOW_UPDATE, 0, id, u32(0x7fffffff)),
            ])
          : rawFrame(WINDOW_UPDATE, 0, id, u32(0)),
      end: false,
      expect: "protocol",
    },
    {
      name: "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
      frames: () => rawFrame(SETTINGS, 0, 0, Buffer.from([0, 4, 0x80, 0, 0, int(random, 0, 255)])),
      end: false,
      expect: "protocol",
    },
    {
      name: "control frames of the wrong size or on the wrong stream",
      frames: (id) =>
        pick(random, [
          rawFrame(PING, 0, 0, bytes(random, pick(random, [0, 7, 9, 16]))),
          rawFrame(PING, 0, id, bytes(random, 8)),
          rawFrame(RST_STREAM, 0, id, bytes(random, pick(random, [0, 3, 5]))),
          rawFrame(RST_STREAM, 0, 0, u32(2)),
          rawFrame(SETTINGS, 0, 0, bytes(random, pick(random, [1, 5, 7, 11]))),
          rawFrame(SETTINGS, 0, id, Buffer.alloc(0)),
          rawFrame(SETTINGS, 0, 0, Buffer.from([0, 5, 0, 0, 0x10, 0])), // MAX_FRAME_SIZE 4096
          rawFrame(SETTINGS, 0, 0, Buffer.from([0, 2, 0, 0, 0, 1])), // ENABLE_PUSH 1
          rawFrame(GOAWAY, 0, 0, bytes(random, int(random, 0, 7))),
          rawFrame(GOAWAY, 0, id, Buffer.alloc(8)),
          rawFrame(WINDOW_UPDATE, 0, 0, bytes(random, pick(random, [0, 3, 5]))),
          rawFrame(WINDOW_UPDATE, 0, 0, u32(0)),
          rawFrame(0x5, END_HEADERS, id, Buffer.concat([u32(2), statusBlock(200)])), // PUSH_PROMISE
        ]),
      end: false,
      expect: "protocol",
    },
    {
      name: "CONTINUATION out of place",
      frames: (id) =>
        random() < 0.5
          ? rawFrame(CONTINUATION, END_HEADERS, id, statusBlock(200))
          : Buffer.concat([
              rawFrame(HEADERS, 0, id, statusBlock(200)),
              pick(random, [
                rawFrame(DATA, 0, id, Buffer.from("x")),
                rawFrame(CONTINUATION, END_HEADERS, id + 2, Buffer.alloc(0)),
              ]),
            ]),
      end: false,
      expect: "protocol",
    },
    {
      name: "oversized header block (endless CONTINUATION)",
      frames: (id) => {
        const frames = [rawFrame(HEADERS, 0, id, statusBlock(200))];
        for (let i = 0; i < 20; i++) frames.push(rawFrame(CONTINUATION, 0, id, Buffer.alloc(16_384, 0x88)));
        return Buffer.concat(frames);
      },
      end: false,
      expect: "protocol",
    },
    {
      name: "HPACK: dynamic references, bad integers, bad strings, bad values",
      frames: (id) =>
        rawFrame(
          HEADERS,
          END_HEADERS | END_STREAM,
          id,
          pick(random, [
            Buffer.from([0x80 | int(random, 62, 127)]),
            Buffer.from([0x80]),
            Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]),
            Buffer.from([0x08, 0x05, 0x32]),
            Buffer.from([0x08, 0x03, 0x32, 0x78, 0x30]),
            Buffer.from([0x3f, 0x01]),
            Buffer.from([0x88, 0x0f, 0x0d, 0x01, 0x2d]),
            Buffer.from([0x08, 0x81, int(random, 0, 0xef)]),
          ]),
        ),
      end: false,
      expect: "protocol",
    },
    {
      name: "malformed responses: no :status, 101, DATA before HEADERS, trailers without END_STREAM, wrong content-length",
      frames: (id) =>
        pick(random, [
          rawFrame(HEADERS, END_HEADERS | END_STREAM, id, Buffer.from([0x5c, 0x01, 0x30])), // content-length 0 only
          rawFrame(HEADERS, END_HEADERS | END_STREAM, id, statusBlock(101)),
          rawFrame(HEADERS, END_HEADERS | END_STREAM, id, statusBlock(int(random, 1000, 99_999))),
          rawFrame(DATA, END_STREAM, id, Buffer.from("early")),
          Buffer.concat([headers(id), rawFrame(HEADERS, END_HEADERS, id, Buffer.alloc(0))]),
          Buffer.concat([
            rawFrame(
              HEADERS,
              END_HEADERS,
              id,
              Buffer.concat([statusBlock(200), Buffer.from([0x0f, 0x0d, 0x01, 0x39])]),
            ),
            rawFrame(DATA, END_STREAM, id, Buffer.from("short")),
          ]),
        ]),
      end: false,
      expect: "protocol",
    },
    {
      name: "truncated frame, then the connection ends",
      frames: (id) => {
        // Whole frames, then one cut short (never at a frame boundary: that would be a clean end).
        const [before, cut] = pick(random, [
          [Buffer.alloc(0), rawFrame(HEADERS, END_HEADERS, id, statusBlock(200))],
          [headers(id), rawFrame(DATA, END_STREAM, id, Buffer.from("a body"))],
          [Buffer.alloc(0), rawFrame(PING, 0, 0, Buffer.alloc(8))],
        ] as const);
        return Buffer.concat([before, cut.subarray(0, int(random, 1, cut.length - 1))]);
      },
      end: true,
      expect: "protocol",
    },
    {
      name: "header block cut off by the end of the connection",
      frames: (id) => rawFrame(HEADERS, 0, id, statusBlock(200)),
      end: true,
      expect: "protocol",
    },
    {
      name: "random bytes",
      frames: () => bytes(random, int(random, 1, 300)),
      end: true,
      expect: "failure",
    },
    {
      name: "random frames",
      frames: (id) => {
        const frames: Buffer[] = [];
        for (let i = int(random, 1, 6); i > 0; i--) {
          frames.push(
            rawFrame(
              int(random, 0, 12),
              int(random, 0, 255),
              pick(random, [0, id, id + 2, int(random, 0, 2 ** 31 - 1)]),
              bytes(random, int(random, 0, 40)),
            ),
          );
        }
        return Buffer.concat(frames);
      },
      end: true,
      expect: "failure",
    },
  ];
}

const MULTI_STREAM_SAFE = [
  "frame larger",
  "connection window",
  "SETTINGS_INITIAL_WINDOW_SIZE",
  "oversized header block",
  "HPACK",
];

const cleanups = cleanupAfterEach();

interface Script {
  frames(id: number): Buffer;
  end: boolean;
}

describe(`HTTP/2 client fuzzing (seed ${SEED})`, () => {
  it(`${ITERATIONS} malformed answers: each a classified failure of its requests, then the next request succeeds`, async () => {
    const random = mulberry32(SEED);
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => {
      uncaught.push(error);
    };
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onUncaught);
    cleanups.push(async () => {
      process.off("uncaughtException", onUncaught);
      process.off("unhandledRejection", onUncaught);
    });

    const scripts: Script[] = [];
    /** A connection that got a malformed answer takes no other script (its streams still open are the client's to fail). */
    const spoiled = new WeakSet<RawConnection>();
    const server = await startRawH2Server({
      onHeaders(connection, streamId) {
        if (spoiled.has(connection)) return;
        // Without a script (a request sent again after a GOAWAY or REFUSED_STREAM among random
        // frames, or one more in flight), a good answer.
        const script = scripts.shift() ?? { frames: ok, end: false };
        connection.send(script.frames(streamId));
        if (script.end) {
          spoiled.add(connection);
          connection.socket.end();
        }
      },
    });
    cleanups.push(() => server.close());
    const transport: HttpTransport = transportFor(
      server.url,
      4,
      parseTransportFlags({ h2c: true }, new URL(server.url), 4),
      2_000,
    );
    cleanups.push(() => transport.close());

    const request = { method: "GET", path: "/", headers: [], body: undefined };
    let outcomes = 0;
    const send = (): Promise<{ error: Error | null; status: number }> =>
      new Promise((resolve) => {
        let calls = 0;
        transport.send(request, (error, status) => {
          calls++;
          outcomes++;
          // A second outcome for one request fails the run below (outcomes ≠ sent).
          if (calls === 1) resolve({ error, status });
        });
      });

    let sent = 0;
    const all = cases(random);
    for (let iteration = 0; iteration < ITERATIONS; iteration++) {
      const chosen = pick(random, all);
      const where = `seed ${SEED}, iteration ${iteration}: ${chosen.name}`;
      scripts.push({ frames: (id) => chosen.frames(id), end: chosen.end });
      const malformed = await send();
      sent++;
      if (chosen.expect === "protocol") {
        expect(malformed.error && analyzeTransportError(malformed.error).kind, where).toBe("protocol");
      } else if (malformed.error) {
        expect(["protocol", "reset"], where).toContain(analyzeTransportError(malformed.error).kind);
      }
      // Whatever the last connection went through, the next request is served.
      scripts.length = 0;
      let healthy = await send();
      sent++;
      if (healthy.error && chosen.end) {
        // The random frames did not break the connection for the client (an answer, a stream
        // reset), so the next request left on it while the server was closing it without a
        // GOAWAY: a reset, as from any server that does so.
        expect(analyzeTransportError(healthy.error).key, where).toBe("reset.closed");
        healthy = await send();
        sent++;
      }
      expect(healthy.error, where).toBeNull();
      expect(healthy.status, where).toBe(200);
    }

    // Several requests in flight on one connection when it breaks: each ends once, as an error.
    for (let iteration = 0; iteration < 20; iteration++) {
      scripts.length = 0;
      // Answers that break the connection whatever streams are open (the others name stream
      // ids relative to the request's, which are open here).
      const chosen = pick(
        random,
        all.filter((item) => MULTI_STREAM_SAFE.some((prefix) => item.name.startsWith(prefix))),
      );
      scripts.push({ frames: (id) => chosen.frames(id), end: false });
      const results = await Promise.all([send(), send(), send()]);
      sent += 3;
      for (const result of results) {
        if (result.error) expect(analyzeTransportError(result.error).kind).toBe("protocol");
        else expect(result.status).toBe(200); // left before the connection broke, answered on a new one
      }
      expect(results.some((result) => result.error)).toBe(true);
    }

    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(outcomes).toBe(sent);
    expect(transport.inFlightCount).toBe(0);
    expect(uncaught).toEqual([]);
  }, 30_000);

  it("the HPACK decoder on random blocks: a result or an HpackError, nothing else", () => {
    const random = mulberry32(SEED ^ 0x9e3779b9);
    const unexpected: string[] = [];
    for (let iteration = 0; iteration < 20_000; iteration++) {
      const block = bytes(random, int(random, 0, 40));
      try {
        const fields = decodeResponseBlock(block);
        if (!Number.isSafeInteger(fields.status) || !Number.isSafeInteger(fields.contentLength)) {
          unexpected.push(`${block.toString("hex")}: ${JSON.stringify(fields)}`);
        }
      } catch (error) {
        if (!(error instanceof HpackError)) unexpected.push(`${block.toString("hex")}: ${String(error)}`);
      }
    }
    expect(unexpected, `seed ${SEED}`).toEqual([]);
  });
});
