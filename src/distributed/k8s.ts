/**
 * `load-test k8s`: the manifests of a sharded run on Kubernetes (docs/DISTRIBUTED.md
 * "Kubernetes"): a ConfigMap holding the profile and an Indexed Job whose pod k runs shard k/N.
 * Kubernetes is the scheduler; there is no coordinator process (not yet built).
 */

export interface K8sOptions {
  shards: number;
  /** The profile's text and its file name inside the ConfigMap. */
  profile: { name: string; text: string };
  image: string;
  namespace: string;
  runId: string;
  /** RFC 3339: the instant every shard starts its schedule. */
  startAt: string;
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

export function k8sManifests(options: K8sOptions): Manifest[] {
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
