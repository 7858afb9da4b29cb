// A minimal, fast HTTP/1.1 target for benchmarks: answers every request with a fixed small JSON
// body. Usage: node bench/fast-server.mjs [port] [--node-http | --h2c] — prints
// "listening on http://127.0.0.1:PORT".
//
// By default it speaks HTTP/1.1 straight over node:net: find the end of the headers, skip
// Content-Length bytes of body, write a precomputed response (pipelined requests are answered in
// one write). On one core this serves several times the requests/s of node:http, so that the
// generators under test, not the target, are what saturates. `--node-http` uses node:http instead
// (a reference point; it caps out much lower). `--h2c` serves HTTP/2 with prior knowledge through
// node:http2, the bench's HTTP/2 target when nginx is not installed (it saturates first). Chunked request bodies are not supported (501):
// none of the benchmarked clients send them.
import { createServer as createHttpServer } from "node:http";
import { createServer as createH2cServer } from "node:http2";
import { createServer as createNetServer } from "node:net";

const body = Buffer.from('{"success":true,"blocked":false}');
const args = process.argv.slice(2);
const useNodeHttp = args.includes("--node-http");
const useH2c = args.includes("--h2c");
const port = Number(args.find((arg) => !arg.startsWith("--")) ?? 0);

const server = useH2c ? h2cServer() : useNodeHttp ? nodeHttpServer() : rawServer();
server.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

function nodeHttpServer() {
  const headers = { "content-type": "application/json", "content-length": String(body.length) };
  return createHttpServer({ keepAliveTimeout: 65_000 }, (request, response) => {
    request.resume();
    request.on("end", () => {
      response.writeHead(200, headers);
      response.end(body);
    });
  });
}

function h2cServer() {
  const server = createH2cServer({ settings: { maxConcurrentStreams: 256 } });
  server.on("stream", (stream) => {
    stream.on("error", () => undefined);
    stream.resume();
    stream.on("end", () => {
      stream.respond({ ":status": 200, "content-type": "application/json", "content-length": body.length });
      stream.end(body);
    });
  });
  return server;
}

function rawServer() {
  const response = Buffer.concat([
    Buffer.from(
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" +
        `content-length: ${body.length}\r\nconnection: keep-alive\r\n\r\n`,
      "latin1",
    ),
    body,
  ]);
  const notImplemented = Buffer.from(
    "HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    "latin1",
  );
  const headerEnd = Buffer.from("\r\n\r\n", "latin1");
  const contentLength = /\r\ncontent-length:[ \t]*(\d+)/i;
  const chunked = /\r\ntransfer-encoding:/i;
  const closeRequested = /\r\nconnection:[ \t]*close/i;

  return createNetServer({ noDelay: true }, (socket) => {
    let pending = null; // bytes of an incomplete request carried over to the next chunk
    socket.on("error", () => socket.destroy());
    socket.on("data", (chunk) => {
      const buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      let position = 0;
      let answered = 0;
      let close = false;
      for (;;) {
        const end = buffer.indexOf(headerEnd, position);
        if (end < 0) break;
        const head = buffer.latin1Slice(position, end);
        if (chunked.test(head)) {
          socket.end(notImplemented);
          return;
        }
        const match = contentLength.exec(head);
        const next = end + 4 + (match ? Number(match[1]) : 0);
        if (next > buffer.length) break; // body not all here yet
        answered++;
        position = next;
        if (closeRequested.test(head)) {
          close = true;
          break;
        }
      }
      if (!close && position < buffer.length) pending = buffer.subarray(position);
      if (answered === 1) socket.write(response);
      else if (answered > 1) socket.write(Buffer.concat(Array(answered).fill(response)));
      if (close) socket.end();
    });
  });
}

// A benchmark target holds nothing worth flushing: exit at once, even with keep-alive connections
// open (the bench stops this process by PID).
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
