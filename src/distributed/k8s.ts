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

/** The CLI inside the image. */
const BIN = "/app/dist/cli/bin.js";

const POD_DEFAULTS = { restartPolicy: "Never", securityContext: { runAsNonRoot: true, runAsUser: 1000 } };

/** The profile from the ConfigMap, and where the results file is written. */
const PROFILE_AND_RESULTS_MOUNTS = [
  { name: "profile", mountPath: "/etc/load-test", readOnly: true },
  { name: "results", mountPath: "/results" },
];

const runLabels = (runId: string): Record<string, string> => ({
  "app.kubernetes.io/name": "load-test",
  "load-test/run-id": runId,
});

const profilePath = (options: K8sOptions): string => `/etc/load-test/${options.profile.name}`;

export function k8sManifests(options: K8sOptions): Manifest[] {
  if (options.coordinator !== false) return coordinatedManifests(options);
  const name = objectName(options.runId);
  const labels = runLabels(options.runId);
  const metadata = { name, namespace: options.namespace, labels };
  const args = [
    "run",
    profilePath(options),
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
  // Exit 3 (a critical verdict) is the shard's view only: the merge judges the run.
  const command = printingResults("/results/shard.json", `if [ "$code" = 3 ]; then exit 0; fi; exit $code`);
  const shard = shardContainer(options, command, args, { volumeMounts: PROFILE_AND_RESULTS_MOUNTS });
  return [
    profileConfigMap(options, metadata),
    shardsJob(options, metadata, labels, shard, profileAndResults(name)),
  ];
}

/**
 * With a coordinator (docs/DISTRIBUTED.md "The coordinator"): the coordinator runs the profile
 * and writes the merged results (printed to its log below the marker line), exits with the
 * merged verdict, and alone pushes to the Pushgateway; the shard pods take the run from it.
 */
function coordinatedManifests(options: K8sOptions): Manifest[] {
  const name = objectName(options.runId);
  const labels = runLabels(options.runId);
  const coordinatorLabels = { ...labels, "load-test/role": "coordinator" };
  const shardLabels = { ...labels, "load-test/role": "shard" };
  const coordinatorName = `${name}-coord`;
  const url = `http://${coordinatorName}.${options.namespace}.svc:${COORDINATOR_PORT}`;
  const registerTimeout = options.registerTimeout ?? "5m";
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
          ...POD_DEFAULTS,
          containers: [
            {
              name: "coordinator",
              image: options.image,
              command: printingResults("/results/run.json", "exit $code"),
              args: [
                "coordinate",
                profilePath(options),
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
              resources: resourcesOf(options),
              volumeMounts: PROFILE_AND_RESULTS_MOUNTS,
            },
          ],
          ...profileAndResults(name),
        },
      },
    },
  };
  // The shard asks for stripe JOB_COMPLETION_INDEX/LOAD_TEST_SHARDS; the rest comes from the coordinator.
  const shard = shardContainer(
    options,
    ["node", BIN],
    ["run", "--coordinator", url, "--register-timeout", registerTimeout],
  );
  const shardsMetadata = { name: `${name}-shards`, namespace: options.namespace, labels: shardLabels };
  return [
    profileConfigMap(options, { name, namespace: options.namespace, labels }),
    service,
    coordinatorJob,
    shardsJob(options, shardsMetadata, shardLabels, shard),
  ];
}

function profileAndResults(configMapName: string): { volumes: Manifest[] } {
  return {
    volumes: [
      { name: "profile", configMap: { name: configMapName } },
      { name: "results", emptyDir: {} },
    ],
  };
}

/** Request = limit: a throttled generator measures itself. */
function resourcesOf(options: K8sOptions): Manifest {
  return {
    requests: { cpu: options.cpu, memory: options.memory },
    limits: { cpu: options.cpu, memory: options.memory },
  };
}

/**
 * The CLI's command line run by a shell that then prints `file` below the marker line: a
 * finished pod's files cannot be copied, its log can. `exit` ends the script.
 */
function printingResults(file: string, exit: string): string[] {
  const script =
    `node ${BIN} "$@"; code=$?; ` +
    `if [ -f ${file} ]; then echo ${RESULTS_MARKER}; cat ${file}; fi; ${exit}`;
  return ["sh", "-c", script, "load-test"];
}

function profileConfigMap(options: K8sOptions, metadata: Manifest): Manifest {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata,
    data: { [options.profile.name]: options.profile.text },
  };
}

function shardContainer(
  options: K8sOptions,
  command: string[],
  args: string[],
  more: Manifest = {},
): Manifest {
  return {
    name: "shard",
    image: options.image,
    command,
    args,
    env: [{ name: "LOAD_TEST_SHARDS", value: String(options.shards) }],
    resources: resourcesOf(options),
    ...more,
  };
}

/** The Indexed Job whose pod k runs shard k/N, spread over the nodes. */
function shardsJob(
  options: K8sOptions,
  metadata: Manifest,
  labels: Record<string, string>,
  container: Manifest,
  volumes: { volumes?: Manifest[] } = {},
): Manifest {
  return {
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
          ...POD_DEFAULTS,
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: "kubernetes.io/hostname",
              whenUnsatisfiable: "ScheduleAnyway",
              labelSelector: { matchLabels: labels },
            },
          ],
          containers: [container],
          ...volumes,
        },
      },
    },
  };
}
