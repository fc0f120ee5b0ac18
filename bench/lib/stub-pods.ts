// Many minimal OpenAI endpoints in one process, one per loopback port: what the decision-time
// benchmark routes to when it needs 512 distinct endpoint addresses (the simulator binds 127.0.0.1
// only, and 512 simulator processes do not fit on a small machine), and the near-instant pods of
// the long-prompt workload (a simulator tokenizes a 220 KB prompt in tens of milliseconds of CPU,
// which would measure the pods, not the gateway). Every POST gets a fixed one-token chat completion
// (as an SSE stream when the body asks for one; the body is never parsed, only its tail is looked
// at); GET /metrics answers idle vLLM gauges so metric-scraping gateways see ready, empty pods;
// GET /health answers 200. A named stub, never a model server.
// Run: node build/js/bench/lib/stub-pods.js N   -> prints {"ports":[...]} and serves until stdin closes.
import http from "node:http";

const n = Math.max(1, Math.min(4096, Number(process.argv[2] ?? "8")));
const MODEL = "stub";
const body = JSON.stringify({
  id: "stub",
  object: "chat.completion",
  created: 0,
  model: MODEL,
  choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "length" }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
});
const chunk = (delta: object, finish: string | null) =>
  `data: ${JSON.stringify({ id: "stub", object: "chat.completion.chunk", created: 0, model: MODEL, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const stream =
  chunk({ role: "assistant", content: "" }, null) +
  chunk({ content: "ok" }, "length") +
  `data: ${JSON.stringify({ id: "stub", object: "chat.completion.chunk", created: 0, model: MODEL, choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } })}\n\n` +
  "data: [DONE]\n\n";
const metrics = [
  'vllm:num_requests_running{engine="0",model_name="stub"} 0',
  'vllm:num_requests_waiting{engine="0",model_name="stub"} 0',
  'vllm:kv_cache_usage_perc{engine="0",model_name="stub"} 0',
  'vllm:cache_config_info{block_size="16",enable_prefix_caching="True",engine="0",num_gpu_blocks="16384"} 1',
  "",
].join("\n");

const ports: number[] = [];
const servers: http.Server[] = [];
for (let i = 0; i < n; i++) {
  const s = http.createServer((req, res) => {
    let tail = "";
    req.on("data", (c: Buffer) => {
      tail = (tail + c.toString("latin1")).slice(-256);
    });
    req.on("end", () => {
      if (req.method === "GET") {
        const m = req.url?.startsWith("/metrics");
        res.writeHead(200, { "content-type": m ? "text/plain; version=0.0.4" : "application/json" });
        res.end(m ? metrics : "{}");
        return;
      }
      if (/"stream"\s*:\s*true/.test(tail)) {
        res.writeHead(200, { "content-type": "text/event-stream", "x-sim-pod": `stub-${i}` });
        res.end(stream);
        return;
      }
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
