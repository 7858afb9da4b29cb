import { execFileSync } from "node:child_process";
import { lstat, mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { InputError } from "../../src/config/errors.js";
import { checkOutputPaths, OutputWriteError, writeFileAtomic } from "../../src/report/output-file.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "load-test-output-"));
});

describe("checkOutputPaths", () => {
  it("creates missing directories, leaves no probe file, and accepts an existing file", async () => {
    await writeFile(join(dir, "old.json"), "old");
    await checkOutputPaths([
      { flag: "--out", path: join(dir, "a", "b", "r.json") },
      { flag: "--markdown", path: join(dir, "old.json") },
    ]);
    expect(await readdir(join(dir, "a", "b"))).toEqual([]);
    expect(await readFile(join(dir, "old.json"), "utf8")).toBe("old");
  });

  it.each([
    ["a directory", () => dir, /is a directory/],
    ["a name ending in /", () => `${dir}/x/`, /is a directory/],
    ["a special file (a FIFO)", () => join(dir, "fifo"), /not a regular file/],
    [
      "a directory that cannot exist (no hang under /proc)",
      () => "/proc/no-such-dir/r.json",
      /cannot create directory/,
    ],
    ["a file under a file", () => join(dir, "f", "r.json"), /not a directory/],
  ])("refuses %s with an InputError naming the flag", async (_name, path, reason) => {
    await writeFile(join(dir, "f"), "");
    // A FIFO of our own, never /dev/null: a regression would rename a file over the target.
    execFileSync("mkfifo", [join(dir, "fifo")]);
    const check = checkOutputPaths([{ flag: "--out", path: path() }]);
    await expect(check).rejects.toBeInstanceOf(InputError);
    await expect(check).rejects.toThrow(reason);
    await expect(check).rejects.toThrow(/^--out: cannot write /);
  });

  it("refuses two outputs on one file", async () => {
    const path = join(dir, "r.json");
    await expect(
      checkOutputPaths([
        { flag: "--out", path },
        { flag: "outputs.markdown", path },
      ]),
    ).rejects.toThrow(/^outputs\.markdown: .* is also the file of --out/);
  });
});

describe("writeFileAtomic", () => {
  it("replaces the file whole and leaves nothing beside it", async () => {
    const path = join(dir, "r.json");
    await writeFile(path, "old");
    await writeFileAtomic({ flag: "--out", path }, "new\n");
    expect(await readFile(path, "utf8")).toBe("new\n");
    expect(await readdir(dir)).toEqual(["r.json"]);
  });

  it("writes through a symbolic link to the file it points at, keeping the link", async () => {
    await mkdir(join(dir, "shared"));
    await writeFile(join(dir, "shared", "r.json"), "old");
    await symlink(join(dir, "shared", "r.json"), join(dir, "link.json"));
    await checkOutputPaths([{ flag: "--out", path: join(dir, "link.json") }]);
    await writeFileAtomic({ flag: "--out", path: join(dir, "link.json") }, "new");
    expect((await lstat(join(dir, "link.json"))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(dir, "shared", "r.json"), "utf8")).toBe("new");
    expect(await readdir(join(dir, "shared"))).toEqual(["r.json"]);
  });

  it("fails with the flag and a reason, removing its temporary file", async () => {
    const path = join(dir, "taken");
    await mkdir(path);
    const write = writeFileAtomic({ flag: "--prometheus-file", path }, "x");
    await expect(write).rejects.toBeInstanceOf(OutputWriteError);
    await expect(write).rejects.toThrow(
      /^--prometheus-file .*taken: could not write the file: is a directory/,
    );
    expect(await readdir(dir)).toEqual(["taken"]);
  });
});
