import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { Fleet, RegistrationError } from "../../src/distributed/fleet.js";
import { MAX_BODY_BYTES } from "../../src/distributed/remote-protocol.js";
import { parseCoordinatorUrl, parseListen, parseShardCount } from "../../src/distributed/coordinate-flags.js";
import { InputError } from "../../src/config/errors.js";

/** The coordinator's HTTP side (distributed/fleet.ts) on loopback, fed what a broken or hostile client sends. */

let fleet: Fleet | undefined;

afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
});

const listen = (shards: number, registerTimeoutMs = 60_000): Promise<Fleet> =>
  Fleet.listen({
    shards,
    host: "127.0.0.1",
    port: 0,
    registerTimeoutMs,
    lostAfterMs: 5000,
    inputFor: (shard) => ({ options: {} as never, stripe: shard }),
  });

/** One POST; its status and body, or for a registration (200) the stream's first line, left open until `close`. */
function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; close?: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers, agent: false }, (response) => {
      let text = "";
      if (response.statusCode === 200) {
        response.once("data", (chunk: Buffer) => {
          resolve({ status: 200, text: chunk.toString(), close: () => response.destroy() });
        });
        return;
      }
      response.on("data", (chunk: Buffer) => (text += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("Fleet: the coordinator's HTTP side", () => {
  it("answers malformed, oversized and unauthenticated messages with 4xx and keeps serving", async () => {
    fleet = await listen(2);
    const base = fleet.url;
    expect((await post(`${base}/v1/register`, "{not json")).status).toBe(400);
    expect((await post(`${base}/v1/register`, JSON.stringify({ version: 99 }))).status).toBe(400);
    expect(
      (await post(`${base}/v1/register`, JSON.stringify({ version: 1, shard: { index: "a" } }))).status,
    ).toBe(400);
    expect((await post(`${base}/v1/register`, Buffer.alloc(MAX_BODY_BYTES + 1, 32))).status).toBe(413);
    expect((await post(`${base}/v1/shards/0/messages`, "{}", { "x-load-test-token": "guess" })).status).toBe(
      403,
    );
    expect((await post(`${base}/elsewhere`, "")).status).toBe(404);
    // Still serving: a well-formed registration gets its stripe and the run definition.
    const registered = await post(
      `${base}/v1/register`,
      JSON.stringify({ version: 1, shard: { index: 1, count: 2 } }),
    );
    expect(registered.status).toBe(200);
    const assign = JSON.parse(registered.text.split("\n")[0] as string) as {
      type: string;
      shard: unknown;
      token: string;
    };
    expect(assign).toMatchObject({ type: "assign", shard: { index: 1, count: 2 } });
    // A registered shard's token, with a body that is not a shard message: 400.
    const bad = await post(`${base}/v1/shards/1/messages`, JSON.stringify({ type: "report", report: {} }), {
      "x-load-test-token": assign.token,
    });
    expect(bad.status).toBe(400);
    registered.close?.();
  });

  it("frees the stripe of a shard that leaves before the run, and names the missing ones when time is up", async () => {
    fleet = await listen(3, 1500);
    const first = await post(`${fleet.url}/v1/register`, JSON.stringify({ version: 1 }));
    expect(JSON.parse(first.text.split("\n")[0] as string)).toMatchObject({ shard: { index: 0, count: 3 } });
    first.close?.();
    // That shard's connection is gone: stripe 0 is free again.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await post(`${fleet.url}/v1/register`, JSON.stringify({ version: 1 }));
    expect(JSON.parse(again.text.split("\n")[0] as string)).toMatchObject({ shard: { index: 0, count: 3 } });
    again.close?.();
    const error = await fleet.whenRegistered().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RegistrationError);
    expect((error as Error).message).toMatch(
      /shards 0\/3, 1\/3, 2\/3 not registered within --register-timeout 1.5s/,
    );
  });

  it("refuses --listen it cannot use with one line naming the flag", async () => {
    fleet = await listen(1);
    const { port } = new URL(fleet.url);
    await expect(
      Fleet.listen({
        shards: 1,
        host: "127.0.0.1",
        port: Number(port),
        registerTimeoutMs: 1000,
        lostAfterMs: 5000,
        inputFor: (shard) => ({ options: {} as never, stripe: shard }),
      }),
    ).rejects.toThrow(/--listen: cannot listen on 127\.0\.0\.1:\d+/);
  });
});

describe("coordinate's flags", () => {
  it("parses and refuses", () => {
    expect(parseListen("0.0.0.0:7070")).toEqual({ host: "0.0.0.0", port: 7070 });
    expect(parseListen("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(() => parseListen("7070")).toThrow(InputError);
    expect(() => parseListen("host:99999")).toThrow(/--listen/);
    expect(parseShardCount("4")).toBe(4);
    expect(() => parseShardCount("0")).toThrow(/--shards/);
    expect(() => parseCoordinatorUrl("https://x:1")).toThrow(/--coordinator: expected an http:\/\//);
    expect(parseCoordinatorUrl("http://coordinator:7070").port).toBe("7070");
  });
});
