/**
 * Separate test hosts on one machine: Linux network namespaces the test creates, each with its
 * own network stack and one private address, joined by a bridge. A process started in a host
 * (`ip netns exec`) reaches the others only through that bridge, as over a network, never
 * through a shared loopback.
 *
 * Everything lives inside namespaces the lab created: the bridge and every veth end sit in the
 * lab's own hub namespace, so the machine's own network is never touched, and deleting the
 * namespaces removes every link with them. The addresses (10.231.L.k/24, L the lab's number) exist
 * only inside those namespaces. Names are unique per process and lab (`lt-<pid>-<lab>-<k>`), so
 * parallel test runs do not meet.
 *
 * Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN, as CI has) and iproute2's `ip`
 * (scripts/ensure-test-deps.sh installs it).
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { requireBinary } from "./pushgateway.js";

const run = promisify(execFile);

export interface TestHost {
  /** The network namespace's name. */
  namespace: string;
  /** Its address on the lab's bridge (10.231.L.k). */
  address: string;
}

export interface NetnsLab {
  hosts: TestHost[];
  /** The argv that runs `command args` on `host`: `ip netns exec NS command args`. */
  command(host: TestHost, command: string, args: readonly string[]): { file: string; args: string[] };
  /** The lab's namespaces that exist now (after cleanup: none). */
  existing(): Promise<string[]>;
  /** Deletes every namespace of the lab (and so its bridge and links); safe to call twice. */
  cleanup(): Promise<void>;
}

let labs = 0;
/** Namespaces not deleted yet, removed on exit should a test die before its afterAll. */
const live = new Set<string>();
let exitHookSet = false;

function deleteOnExit(ip: string): void {
  if (exitHookSet) return;
  exitHookSet = true;
  process.once("exit", () => {
    for (const namespace of live) {
      try {
        execFileSync(ip, ["netns", "delete", namespace], { stdio: "ignore" });
      } catch {
        // already gone
      }
    }
  });
}

/** Creates `count` hosts on one bridge; on any failure, removes what it created and throws. */
export async function createNetnsLab(count: number): Promise<NetnsLab> {
  const ip = requireBinary("ip", "IP_BIN", "/usr/sbin/ip");
  if (process.getuid?.() !== 0)
    throw new Error("network-namespace tests need root (ip netns add); CI runs them as root");
  deleteOnExit(ip);
  const lab = ++labs % 250;
  const prefix = `lt-${process.pid}-${lab}`;
  const hub = `${prefix}-hub`;
  const hosts: TestHost[] = Array.from({ length: count }, (_, k) => ({
    namespace: `${prefix}-${k}`,
    address: `10.231.${lab}.${k + 1}`,
  }));
  const namespaces = [hub, ...hosts.map((host) => host.namespace)];
  const ipIn = (namespace: string, args: string[]) => run(ip, ["-n", namespace, ...args]);
  const existing = async (): Promise<string[]> => {
    const { stdout } = await run(ip, ["netns", "list"]);
    const names = new Set(stdout.split("\n").map((line) => line.split(" ")[0]));
    return namespaces.filter((namespace) => names.has(namespace));
  };
  const cleanup = async (): Promise<void> => {
    for (const namespace of await existing()) {
      await run(ip, ["netns", "delete", namespace]);
      live.delete(namespace);
    }
  };
  try {
    for (const namespace of namespaces) {
      await run(ip, ["netns", "add", namespace]);
      live.add(namespace);
      await ipIn(namespace, ["link", "set", "lo", "up"]);
    }
    await ipIn(hub, ["link", "add", "br0", "type", "bridge"]);
    await ipIn(hub, ["link", "set", "br0", "up"]);
    for (const [k, host] of hosts.entries()) {
      // Both ends are made inside namespaces of the lab: `v<k>` on the hub's bridge, `eth0` in the host.
      await ipIn(hub, [
        "link",
        "add",
        `v${k}`,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        host.namespace,
      ]);
      await ipIn(hub, ["link", "set", `v${k}`, "master", "br0", "up"]);
      await ipIn(host.namespace, ["addr", "add", `${host.address}/24`, "dev", "eth0"]);
      await ipIn(host.namespace, ["link", "set", "eth0", "up"]);
    }
  } catch (error) {
    await cleanup().catch(() => undefined);
    throw error;
  }
  return {
    hosts,
    command: (host, command, args) => ({
      file: ip,
      args: ["netns", "exec", host.namespace, command, ...args],
    }),
    existing,
    cleanup,
  };
}
