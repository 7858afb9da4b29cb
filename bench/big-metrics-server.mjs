// A Prometheus text page of about 5 MB (a large node_exporter's size), served as is to every GET,
// for the monitor's overhead bench (bench/monitor-overhead.mjs). Prints "listening on http://…".
import { createServer } from "node:http";

const lines = [];
let length = 0;
const add = (line) => {
  lines.push(line);
  length += line.length;
};
for (let family = 0; length < 5 * 1024 * 1024; family += 1) {
  add(
    `# HELP bench_family_${family} a family of the bench's big page\n# TYPE bench_family_${family} counter\n`,
  );
  for (let i = 0; i < 200; i += 1)
    add(`bench_family_${family}_total{device="dev${i}",mode="m${i % 8}"} ${family * 1000 + i}\n`);
}
const page = Buffer.from(lines.join(""));
const server = createServer((request, response) => {
  request.resume();
  response.writeHead(200, { "content-type": "text/plain; version=0.0.4", "content-length": page.length });
  response.end(page);
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port} (${page.length} bytes)`);
});
