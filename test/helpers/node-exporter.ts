/**
 * Debian's prometheus-node-exporter on a free loopback port, for the monitor's tests. Installed
 * by scripts/ensure-test-deps.sh; a missing binary fails the test with the install command.
 */
import { spawn } from "node:child_process";
import { freePort, requireBinary } from "./pushgateway.js";

export interface NodeExporter {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startNodeExporter(): Promise<NodeExporter> {
  const bin = requireBinary(
    "prometheus-node-exporter",
    "NODE_EXPORTER_BIN",
    "/usr/bin/prometheus-node-exporter",
  );
  const port = await freePort();
  const child = spawn(bin, [`--web.listen-address=127.0.0.1:${port}`], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const url = `http://127.0.0.1:${port}/metrics`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    process.kill(child.pid, "SIGTERM");
    await exited;
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`node_exporter exited with ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(url)).ok) return { url, pid: child.pid as number, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error(`node_exporter not ready after 15 s: ${stderr}`);
}
