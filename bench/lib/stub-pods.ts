// Many minimal OpenAI endpoints in one process, one per loopback port: what the decision-time
// benchmark routes to when it needs 512 distinct endpoint addresses (the simulator binds 127.0.0.1
// only, and 512 simulator processes do not fit on a small machine). Every POST gets a fixed
// one-token chat completion; the filter's decision does not depend on what the pod answers.
// Run: node build/js/bench/lib/stub-pods.js N   -> prints {"ports":[...]} and serves until stdin closes.
import http from "node:http";

const n = Math.max(1, Math.min(4096, Number(process.argv[2] ?? "8")));
const body = JSON.stringify({
  id: "stub",
  object: "chat.completion",
  created: 0,
  model: "stub",
  choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "length" }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
});
const ports: number[] = [];
const servers: http.Server[] = [];
for (let i = 0; i < n; i++) {
  const s = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        "x-sim-pod": `stub-${i}`,
      });
      res.end(body);
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  ports.push((s.address() as { port: number }).port);
}
process.stdout.write(`${JSON.stringify({ ports })}\n`);
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
