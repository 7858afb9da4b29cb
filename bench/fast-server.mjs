// A minimal, fast HTTP/1.1 target for benchmarks: answers every request with a fixed small JSON
// body. Usage: node bench/fast-server.mjs [port] — prints "listening on http://127.0.0.1:PORT".
import { createServer } from "node:http";

const body = Buffer.from('{"success":true,"blocked":false}');
const headers = { "content-type": "application/json", "content-length": String(body.length) };
const server = createServer({ keepAliveTimeout: 65_000 }, (request, response) => {
  request.resume();
  request.on("end", () => {
    response.writeHead(200, headers);
    response.end(body);
  });
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
