import { ConfigMap } from "kubernetes-models/v1";
import { Job } from "kubernetes-models/batch/v1";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { BIN_PATH, runCli } from "../helpers/cli.js";

const PROFILE = fileURLToPath(new URL("../../examples/policy-mixed.yaml", import.meta.url));

describe("load-test k8s", () => {
  it("prints a ConfigMap and an Indexed Job that validate against the Kubernetes API schemas", async () => {
    const before = Date.now();
    const run = await runCli(
      [
        ...["k8s", PROFILE, "--shards", "4", "--image", "registry.local/load-test:1", "--namespace", "perf"],
        ...["--run-id", "nightly-7", "--pushgateway", "http://pushgateway.monitoring:9091"],
      ],
      { entry: BIN_PATH },
    );
    expect(run.code, run.stderr).toBe(0);
    const documents = parseAllDocuments(run.stdout).map(
      (document) => document.toJS() as Record<string, unknown>,
    );
    expect(documents.map((document) => document.kind)).toEqual(["ConfigMap", "Job"]);
    const configMap = new ConfigMap(documents[0] as ConstructorParameters<typeof ConfigMap>[0]);
    const job = new Job(documents[1] as ConstructorParameters<typeof Job>[0]);
    // Schema validation (types, required fields, enums), not only that the YAML parses.
    configMap.validate();
    job.validate();

    for (const manifest of [configMap, job]) {
      expect(manifest.metadata?.namespace).toBe("perf");
      expect(manifest.metadata?.labels?.["load-test/run-id"]).toBe("nightly-7");
    }
    expect(configMap.data?.["policy-mixed.yaml"]).toBe(readFileSync(PROFILE, "utf8"));
    const spec = job.spec!;
    expect(spec.completionMode).toBe("Indexed");
    expect(spec.completions).toBe(4);
    expect(spec.parallelism).toBe(4);
    const pod = spec.template.spec!;
    expect(pod.topologySpreadConstraints?.[0]?.topologyKey).toBe("kubernetes.io/hostname");
    expect(spec.template.metadata?.labels?.["load-test/run-id"]).toBe("nightly-7");
    const container = pod.containers[0]!;
    expect(container.image).toBe("registry.local/load-test:1");
    expect(container.resources?.requests?.cpu).toBe("1");
    expect(container.resources?.limits?.cpu).toBe("1");
    expect(container.env).toContainEqual({ name: "LOAD_TEST_SHARDS", value: "4" });
    expect(container.volumeMounts?.map((mount) => mount.mountPath)).toContain("/etc/load-test");
    expect(pod.volumes?.find((volume) => volume.name === "profile")?.configMap?.name).toBe(
      configMap.metadata?.name,
    );
    const args = container.args ?? [];
    const valueOf = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    expect(valueOf("run")).toBe("/etc/load-test/policy-mixed.yaml");
    expect(valueOf("--run-id")).toBe("nightly-7");
    expect(valueOf("--pushgateway")).toBe("http://pushgateway.monitoring:9091");
    // One absolute shared start, about --start-in (3m) from now.
    const startAt = Date.parse(valueOf("--start-at") ?? "");
    expect(startAt - before).toBeGreaterThan(170_000);
    expect(startAt - before).toBeLessThan(200_000);
  });

  it("refuses a bad --shards or profile with exit 2 and one line", async () => {
    const bad = await runCli(["k8s", PROFILE, "--shards", "0"], { entry: BIN_PATH });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^load-test: --shards|--shards/);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    const missing = await runCli(["k8s", "/nonexistent/profile.yaml", "--shards", "2"], { entry: BIN_PATH });
    expect(missing.code).toBe(2);
  });
});
