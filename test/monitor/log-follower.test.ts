import { appendFile, mkdtemp, rename, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LogFollower } from "../../src/monitor/log-follower.js";
import { redactLine } from "../../src/monitor/redact.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "load-test-log-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const PATTERN = /ERROR|FATAL|panic/;

describe("LogFollower", () => {
  it("counts only lines appended after it started, across appends and a line split between reads", async () => {
    const file = join(dir, "app.log");
    await writeFile(file, "ERROR before the run\nINFO old\n");
    const follower = new LogFollower(file, PATTERN);
    expect(await follower.poll()).toBe(0);
    await appendFile(file, "INFO ok\nERROR one\nFATAL tw");
    expect(await follower.poll()).toBe(1);
    await appendFile(file, "o\npanic: three\nINFO fine\n");
    expect(await follower.poll()).toBe(2);
    expect(follower.matched).toBe(3);
    expect(follower.firstLines).toEqual(["ERROR one", "FATAL two", "panic: three"]);
    await follower.close();
  });

  it("survives rotation: the old file is read to its end, then the new one from its start", async () => {
    const file = join(dir, "app.log");
    await writeFile(file, "");
    const follower = new LogFollower(file, PATTERN);
    await follower.poll();
    await appendFile(file, "ERROR a\n");
    expect(await follower.poll()).toBe(1);
    await appendFile(file, "ERROR b (written just before the rename)\n");
    await rename(file, `${file}.1`);
    await writeFile(file, "ERROR c\nINFO d\n");
    expect(await follower.poll()).toBe(2);
    await appendFile(file, "ERROR e\n");
    expect(await follower.poll()).toBe(1);
    expect(follower.matched).toBe(4);
    await follower.close();
  });

  it("survives truncation in place (copytruncate) and a file that appears later", async () => {
    const file = join(dir, "later.log");
    const follower = new LogFollower(file, PATTERN);
    expect(await follower.poll()).toBe(0);
    expect(await follower.poll()).toBe(0);
    await writeFile(file, "ERROR first\n");
    expect(await follower.poll()).toBe(1);
    await appendFile(file, "INFO padding padding padding\n");
    await follower.poll();
    await truncate(file, 0);
    await appendFile(file, "ERROR after truncate\n");
    expect(await follower.poll()).toBe(1);
    await follower.close();
  });

  it("keeps at most five lines, redacted", async () => {
    const file = join(dir, "app.log");
    await writeFile(file, "");
    const follower = new LogFollower(file, PATTERN);
    await follower.poll();
    const lines = Array.from({ length: 8 }, (_, i) => `ERROR ${i} Authorization: Bearer abc.def${i}`);
    await appendFile(file, `${lines.join("\n")}\n`);
    expect(await follower.poll()).toBe(8);
    expect(follower.firstLines).toHaveLength(5);
    for (const line of follower.firstLines) expect(line).not.toMatch(/abc\.def/);
    await follower.close();
  });
});

describe("redactLine", () => {
  it("removes bearer tokens, authorization headers, key=value secrets, sk- keys and URL credentials", () => {
    const cases: Array<[string, RegExp]> = [
      ["ERROR auth failed for Bearer eyJhbGciOi.x-y_z", /Bearer eyJ/],
      ['ERROR headers {"authorization":"Basic dXNlcjpwYXNz"}', /dXNlcjpwYXNz/],
      ["ERROR retry api_key=s3cr3tvalue&x=1", /s3cr3tvalue/],
      ['ERROR config password: "hunter22"', /hunter22/],
      ["ERROR token=abcdef0123 expired", /abcdef0123/],
      ["FATAL openai sk-proj-ABCDEFGH12345678 rejected", /ABCDEFGH12345678/],
      ["ERROR cannot reach postgres://app:pa55word@db:5432/x", /pa55word/],
      ["panic: X-Api-Key: k-123456789", /k-123456789/],
    ];
    for (const [line, secret] of cases) {
      const redacted = redactLine(line);
      expect(redacted, line).not.toMatch(secret);
      expect(redacted, line).toContain("[redacted]");
    }
    expect(redactLine("ERROR plain failure at step 3")).toBe("ERROR plain failure at step 3");
  });
});
