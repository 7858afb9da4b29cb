// A target for the network-namespace tests (test/helpers/netns.ts), run as its own process in a
// test host: `node netns-target.mjs ADDRESS ACCESS_LOG`. Answers every request 200 with the JSON
// of a target with no policy engine, and writes one access-log line per request as it arrives
// (its body read): the arrival time (epoch ms, µs precision), the client's address and the body
// as a JSON string. Prints "listening on http://ADDRESS:PORT" once it accepts connections; ends
// on SIGTERM.
import { closeSync, openSync, writeSync } from "node:fs";
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";

const [address, logPath] = process.argv.slice(2);
const log = openSync(logPath, "w");
const answer = JSON.stringify({ success: true, result: "ok" });

const server = createServer({ keepAliveTimeout: 60_000 }, (request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    const arrivedMs = performance.timeOrigin + performance.now();
    const body = Buffer.concat(chunks).toString("utf8");
    writeSync(log, `${arrivedMs.toFixed(3)}\t${request.socket.remoteAddress}\t${JSON.stringify(body)}\n`);
    response.writeHead(200, { "content-type": "application/json", "content-length": answer.length });
    response.end(answer);
  });
});
server.listen(0, address, () => {
  console.log(`listening on http://${address}:${server.address().port}`);
});
process.once("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => {
    closeSync(log);
    process.exit(0);
  });
});
