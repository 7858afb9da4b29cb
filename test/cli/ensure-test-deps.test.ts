/**
 * scripts/ensure-test-deps.sh, the `pretest` step that makes `npm ci && npm test` work on a fresh
 * machine (README "Quick start"). The packages it installs are on this machine already, and
 * other work needs them, so the missing ones are simulated: PATH and the Debian paths point into
 * a temporary directory (ENSURE_TEST_DEPS_ROOT), where a stand-in apt-get "installs" a package by
 * writing its binaries.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPT = fileURLToPath(new URL("../../scripts/ensure-test-deps.sh", import.meta.url));
const BASH = "/bin/bash";
const BINARY_VARIABLES = [
  "PUSHGATEWAY_BIN",
  "PROMETHEUS_BIN",
  "PROMTOOL_BIN",
  "NGINX_BIN",
  "CHROMIUM_BIN",
  "NODE_EXPORTER_BIN",
  "IP_BIN",
];

/** A root with no package installed, a PATH with only what the script needs, and a stand-in apt-get. */
const roots: string[] = [];
afterAll(() => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

async function freshMachine(aptGet: "installs" | "installs nothing" | "absent") {
  const root = await mkdtemp(join(tmpdir(), "ensure-test-deps-"));
  roots.push(root);
  const bin = join(root, "path-bin");
  await mkdir(bin);
  for (const tool of ["sort", "id", "env"]) await symlink(`/usr/bin/${tool}`, join(bin, tool));
  // Not root (the script then asks sudo): the stand-in runs the command as it is.
  await writeFile(join(bin, "sudo"), `#!${BASH}\nexec "$@"\n`);
  await chmod(join(bin, "sudo"), 0o755);
  const log = join(root, "apt-get.log");
  if (aptGet !== "absent") {
    const install =
      aptGet === "installs"
        ? `for package in "$@"; do case "$package" in
  prometheus-pushgateway) put usr/bin/prometheus-pushgateway ;;
  prometheus) put usr/bin/prometheus; put usr/bin/promtool ;;
  nginx-light) put usr/sbin/nginx ;;
  chromium) put usr/bin/chromium ;;
  prometheus-node-exporter) put usr/bin/prometheus-node-exporter ;;
  iproute2) put usr/sbin/ip ;;
esac; done`
        : ":";
    const script = `#!${BASH}
echo "$*" >> ${JSON.stringify(log)}
put() { /usr/bin/mkdir -p "${root}/$(/usr/bin/dirname "$1")"; printf '#!/bin/true\\n' > "${root}/$1"; /usr/bin/chmod +x "${root}/$1"; }
[ "$1" = install ] && { ${install}; }
exit 0
`;
    await writeFile(join(bin, "apt-get"), script);
    await chmod(join(bin, "apt-get"), 0o755);
  }
  const run = () => {
    const env: NodeJS.ProcessEnv = { PATH: bin, ENSURE_TEST_DEPS_ROOT: root, HOME: root };
    const result = spawnSync(BASH, [SCRIPT], { env, encoding: "utf8", timeout: 20_000 });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const aptCalls = async (): Promise<string[]> =>
    existsSync(log) ? (await readFile(log, "utf8")).trim().split("\n") : [];
  return { root, run, aptCalls };
}

describe("scripts/ensure-test-deps.sh", () => {
  it("is silent and installs nothing when every binary is there (this machine)", () => {
    const env = { ...process.env };
    for (const name of BINARY_VARIABLES) delete env[name];
    const result = spawnSync(BASH, [SCRIPT], { env, encoding: "utf8", timeout: 20_000 });
    expect(result.status).toBe(0);
    expect(result.stdout + result.stderr).toBe("");
  });

  it("on a fresh machine installs the missing packages with apt-get, once", async () => {
    const machine = await freshMachine("installs");
    const first = machine.run();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(
      "missing: chromium iproute2 nginx-light prometheus prometheus-node-exporter prometheus-pushgateway; installing them",
    );
    expect(first.stderr).toContain(
      "installed chromium iproute2 nginx-light prometheus prometheus-node-exporter prometheus-pushgateway",
    );
    expect(await machine.aptCalls()).toEqual([
      "update -qq",
      "install -y -qq --no-install-recommends chromium iproute2 nginx-light prometheus prometheus-node-exporter prometheus-pushgateway",
    ]);
    for (const path of [
      "usr/bin/promtool",
      "usr/bin/prometheus",
      "usr/sbin/nginx",
      "usr/bin/chromium",
      "usr/bin/prometheus-node-exporter",
      "usr/sbin/ip",
    ])
      expect(existsSync(join(machine.root, path))).toBe(true);
    // Everything is there now: a second run says nothing and calls nothing.
    const second = machine.run();
    expect(second).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(await machine.aptCalls()).toHaveLength(2);
  });

  it("says what to run when apt-get did not install them", async () => {
    const machine = await freshMachine("installs nothing");
    const result = machine.run();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "error: still missing after apt-get: chromium iproute2 nginx-light prometheus prometheus-node-exporter prometheus-pushgateway; run: apt-get update && apt-get install -y --no-install-recommends chromium iproute2 nginx-light prometheus prometheus-node-exporter prometheus-pushgateway",
    );
  });

  it("says what to install when there is no apt-get", async () => {
    const machine = await freshMachine("absent");
    const result = machine.run();
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /error: no apt-get here; install chromium iproute2 nginx-light prometheus prometheus-node-exporter prometheus-pushgateway/,
    );
    expect(result.stderr).toContain("LOAD_TEST_SKIP_TEST_DEPS=1");
  });

  it("finds a binary named by its variable, as the test helpers do", async () => {
    const machine = await freshMachine("absent");
    const nginx = join(machine.root, "my-nginx");
    await writeFile(nginx, "#!/bin/true\n");
    await chmod(nginx, 0o755);
    const result = spawnSync(BASH, [SCRIPT], {
      env: { PATH: join(machine.root, "path-bin"), ENSURE_TEST_DEPS_ROOT: machine.root, NGINX_BIN: nginx },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.stderr).toContain(
      "missing: chromium iproute2 prometheus prometheus-node-exporter prometheus-pushgateway;",
    );
  });
});
