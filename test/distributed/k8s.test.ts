import { ConfigMap, Service } from "kubernetes-models/v1";
import { Job } from "kubernetes-models/batch/v1";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { BIN_PATH, runCli } from "../helpers/cli.js";

const PROFILE = fileURLToPath(new URL("../../examples/policy-mixed.yaml", import.meta.url));

describe("load-test k8s", () => {
  it("--no-coordinator: prints a ConfigMap and an Indexed Job that validate against the Kubernetes API schemas", async () => {
    const before = Date.now();
    const run = await runCli(
      [
        ...["k8s", PROFILE, "--shards", "4", "--no-coordinator"],
        ...["--image", "registry.local/load-test:1", "--namespace", "perf"],
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

  it("prints the coordinator (Job + Service) and an Indexed Job of shards that reach it by the Service", async () => {
    const run = await runCli(
      [
        ...["k8s", PROFILE, "--shards", "3", "--image", "registry.local/load-test:1", "--namespace", "perf"],
        ...["--run-id", "nightly-8", "--pushgateway", "http://pushgateway.monitoring:9091"],
        ...["--register-timeout", "2m"],
      ],
      { entry: BIN_PATH },
    );
    expect(run.code, run.stderr).toBe(0);
    const documents = parseAllDocuments(run.stdout).map(
      (document) => document.toJS() as Record<string, unknown>,
    );
    expect(documents.map((document) => document.kind)).toEqual(["ConfigMap", "Service", "Job", "Job"]);
    const configMap = new ConfigMap(documents[0] as ConstructorParameters<typeof ConfigMap>[0]);
    const service = new Service(documents[1] as ConstructorParameters<typeof Service>[0]);
    const coordinator = new Job(documents[2] as ConstructorParameters<typeof Job>[0]);
    const shards = new Job(documents[3] as ConstructorParameters<typeof Job>[0]);
    for (const manifest of [configMap, service, coordinator, shards]) {
      manifest.validate();
      expect(manifest.metadata?.namespace).toBe("perf");
      expect(manifest.metadata?.labels?.["load-test/run-id"]).toBe("nightly-8");
      expect((manifest.metadata?.name ?? "").length).toBeLessThanOrEqual(63);
    }
    // The Service selects the coordinator's pod, on the port the coordinator listens on.
    const coordinatorPod = coordinator.spec!.template;
    const selector = service.spec?.selector ?? {};
    for (const [key, value] of Object.entries(selector))
      expect(coordinatorPod.metadata?.labels?.[key]).toBe(value);
    expect(Object.keys(selector)).toContain("load-test/role");
    const coordinatorContainer = coordinatorPod.spec!.containers[0]!;
    const coordinatorArgs = coordinatorContainer.args ?? [];
    const valueOf = (args: string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];
    expect(valueOf(coordinatorArgs, "coordinate")).toBe("/etc/load-test/policy-mixed.yaml");
    expect(valueOf(coordinatorArgs, "--shards")).toBe("3");
    const port = Number(valueOf(coordinatorArgs, "--listen")?.split(":")[1]);
    expect(service.spec?.ports?.[0]?.port).toBe(port);
    expect(coordinatorContainer.ports?.[0]?.containerPort).toBe(port);
    expect(valueOf(coordinatorArgs, "--run-id")).toBe("nightly-8");
    expect(valueOf(coordinatorArgs, "--pushgateway")).toBe("http://pushgateway.monitoring:9091");
    expect(valueOf(coordinatorArgs, "--register-timeout")).toBe("2m");
    expect(coordinator.spec?.backoffLimit).toBe(0);
    // The shards: an Indexed Job of 3, each asking for its stripe (JOB_COMPLETION_INDEX/LOAD_TEST_SHARDS).
    const spec = shards.spec!;
    expect(spec.completionMode).toBe("Indexed");
    expect(spec.completions).toBe(3);
    expect(spec.parallelism).toBe(3);
    const shardContainer = spec.template.spec!.containers[0]!;
    expect(shardContainer.env).toContainEqual({ name: "LOAD_TEST_SHARDS", value: "3" });
    const shardArgs = shardContainer.args ?? [];
    expect(valueOf(shardArgs, "--coordinator")).toBe(`http://${service.metadata?.name}.perf.svc:${port}`);
    expect(valueOf(shardArgs, "--register-timeout")).toBe("2m");
    // A shard takes no run flags of its own: the coordinator sends them (and pushes alone).
    expect(shardArgs).not.toContain("--pushgateway");
    expect(shardArgs).not.toContain("--start-at");
    expect(spec.template.spec!.topologySpreadConstraints?.[0]?.topologyKey).toBe("kubernetes.io/hostname");
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
