/**
 * `load-test k8s`: the manifests of a sharded run on Kubernetes (docs/DISTRIBUTED.md
 * "Kubernetes"): a ConfigMap holding the profile, the coordinator (a Job and the Service its
 * shards reach it by) and an Indexed Job whose pod k runs shard k/N with `--coordinator URL`;
 * or, with `coordinator: false`, shards that run on their own from one `--start-at` and are
 * merged afterwards from their logs. Kubernetes is the scheduler.
 */

export interface K8sOptions {
  shards: number;
  /** The profile's text and its file name inside the ConfigMap. */
  profile: { name: string; text: string };
  image: string;
  namespace: string;
  runId: string;
  /** RFC 3339: the instant every shard starts its schedule (without a coordinator). */
  startAt: string;
  /** A live coordinator (default), or shards merged afterwards from their files. */
  coordinator?: boolean;
  /** With a coordinator: how long the pods have to register (`--register-timeout`). */
  registerTimeout?: string;
  pushgateway?: string;
  /** CPU per shard pod (request = limit: a throttled generator measures itself). */
  cpu: string;
  memory: string;
}

/** Printed after the results file so `kubectl logs` carries it (docs/DISTRIBUTED.md "Collecting"). */
export const RESULTS_MARKER = "---load-test-results---";

type Manifest = Record<string, unknown>;

/** A DNS-1123 name from the run id (Kubernetes object names). */
export function objectName(runId: string): string {
  const name = `load-test-${runId}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/-+/g, "-")
    .slice(0, 52)
    .replace(/-$/, "");
  return name;
}

/** The coordinator's port, in its pod and on its Service. */
export const COORDINATOR_PORT = 7070;

export function k8sManifests(options: K8sOptions): Manifest[] {
  if (options.coordinator !== false) return coordinatedManifests(options);
  const name = objectName(options.runId);
  const labels = { "app.kubernetes.io/name": "load-test", "load-test/run-id": options.runId };
  const metadata = { name, namespace: options.namespace, labels };
  const profilePath = `/etc/load-test/${options.profile.name}`;
  const args = [
    "run",
    profilePath,
    "--start-at",
    options.startAt,
    "--run-id",
    options.runId,
    "--quiet",
    "--out",
    "/results/shard.json",
    ...(options.pushgateway
      ? ["--pushgateway", options.pushgateway, "--pushgateway-instance", "shard-$(JOB_COMPLETION_INDEX)"]
      : []),
  ];
  // The results file goes to the log after the summary: a finished pod's files cannot be copied.
  // Exit 3 (a critical verdict) is the shard's view only: the merge judges the run.
  const script =
    `node /app/dist/cli/bin.js "$@"; code=$?; ` +
    `if [ -f /results/shard.json ]; then echo ${RESULTS_MARKER}; cat /results/shard.json; fi; ` +
    `if [ "$code" = 3 ]; then exit 0; fi; exit $code`;
  const configMap: Manifest = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata,
    data: { [options.profile.name]: options.profile.text },
  };
  const job: Manifest = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata,
    spec: {
      completionMode: "Indexed",
      completions: options.shards,
      parallelism: options.shards,
      // A shard run again later would not be part of the shared schedule.
      backoffLimit: 0,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          securityContext: { runAsNonRoot: true, runAsUser: 1000 },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: "kubernetes.io/hostname",
              whenUnsatisfiable: "ScheduleAnyway",
              labelSelector: { matchLabels: labels },
            },
          ],
          containers: [
            {
              name: "shard",
              image: options.image,
              command: ["sh", "-c", script, "load-test"],
              args,
              env: [{ name: "LOAD_TEST_SHARDS", value: String(options.shards) }],
              resources: {
                requests: { cpu: options.cpu, memory: options.memory },
                limits: { cpu: options.cpu, memory: options.memory },
              },
              volumeMounts: [
                { name: "profile", mountPath: "/etc/load-test", readOnly: true },
                { name: "results", mountPath: "/results" },
              ],
            },
          ],
          volumes: [
            { name: "profile", configMap: { name } },
            { name: "results", emptyDir: {} },
          ],
        },
      },
    },
  };
  return [configMap, job];
}

/**
 * With a coordinator (docs/DISTRIBUTED.md "The coordinator"): the coordinator runs the profile
 * and writes the merged results (printed to its log below the marker line), exits with the
 * merged verdict, and alone pushes to the Pushgateway; the shard pods take the run from it.
 */
function coordinatedManifests(options: K8sOptions): Manifest[] {
  const name = objectName(options.runId);
  const labels = { "app.kubernetes.io/name": "load-test", "load-test/run-id": options.runId };
  const coordinatorLabels = { ...labels, "load-test/role": "coordinator" };
  const shardLabels = { ...labels, "load-test/role": "shard" };
  const coordinatorName = `${name}-coord`;
  const url = `http://${coordinatorName}.${options.namespace}.svc:${COORDINATOR_PORT}`;
  const registerTimeout = options.registerTimeout ?? "5m";
  const profilePath = `/etc/load-test/${options.profile.name}`;
  const resources = {
    requests: { cpu: options.cpu, memory: options.memory },
    limits: { cpu: options.cpu, memory: options.memory },
  };
  const podDefaults = { restartPolicy: "Never", securityContext: { runAsNonRoot: true, runAsUser: 1000 } };
  const script =
    `node /app/dist/cli/bin.js "$@"; code=$?; ` +
    `if [ -f /results/run.json ]; then echo ${RESULTS_MARKER}; cat /results/run.json; fi; exit $code`;
  const configMap: Manifest = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: options.namespace, labels },
    data: { [options.profile.name]: options.profile.text },
  };
  const service: Manifest = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: coordinatorName, namespace: options.namespace, labels: coordinatorLabels },
    spec: {
      selector: coordinatorLabels,
      ports: [{ name: "coordinator", port: COORDINATOR_PORT, targetPort: COORDINATOR_PORT, protocol: "TCP" }],
    },
  };
  const coordinatorJob: Manifest = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: coordinatorName, namespace: options.namespace, labels: coordinatorLabels },
    spec: {
      completions: 1,
      parallelism: 1,
      // A coordinator started again would wait for shards that have already given up.
      backoffLimit: 0,
      template: {
        metadata: { labels: coordinatorLabels },
        spec: {
          ...podDefaults,
          containers: [
            {
              name: "coordinator",
              image: options.image,
              command: ["sh", "-c", script, "load-test"],
              args: [
                "coordinate",
                profilePath,
                "--shards",
                String(options.shards),
                "--listen",
                `0.0.0.0:${COORDINATOR_PORT}`,
                "--register-timeout",
                registerTimeout,
                "--run-id",
                options.runId,
                "--out",
                "/results/run.json",
                ...(options.pushgateway ? ["--pushgateway", options.pushgateway] : []),
              ],
              ports: [{ name: "coordinator", containerPort: COORDINATOR_PORT, protocol: "TCP" }],
              resources,
              volumeMounts: [
                { name: "profile", mountPath: "/etc/load-test", readOnly: true },
                { name: "results", mountPath: "/results" },
              ],
            },
          ],
          volumes: [
            { name: "profile", configMap: { name } },
            { name: "results", emptyDir: {} },
          ],
        },
      },
    },
  };
  const shardJob: Manifest = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: `${name}-shards`, namespace: options.namespace, labels: shardLabels },
    spec: {
      completionMode: "Indexed",
      completions: options.shards,
      parallelism: options.shards,
      // A shard run again later would not be part of the shared schedule.
      backoffLimit: 0,
      template: {
        metadata: { labels: shardLabels },
        spec: {
          ...podDefaults,
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: "kubernetes.io/hostname",
              whenUnsatisfiable: "ScheduleAnyway",
              labelSelector: { matchLabels: shardLabels },
            },
          ],
          containers: [
            {
              name: "shard",
              image: options.image,
              // The shard asks for stripe JOB_COMPLETION_INDEX/LOAD_TEST_SHARDS; the rest comes from the coordinator.
              command: ["node", "/app/dist/cli/bin.js"],
              args: ["run", "--coordinator", url, "--register-timeout", registerTimeout],
              env: [{ name: "LOAD_TEST_SHARDS", value: String(options.shards) }],
              resources,
            },
          ],
        },
      },
    },
  };
  return [configMap, service, coordinatorJob, shardJob];
}
