// How many tiny non-streaming requests per second one simulated pod serves with zero modelled
// latency, so that benchmarks know the simulator is not their bottleneck. Run by hand:
//   node build/js/test/sim/throughput.js [--seconds 5] [--connections 64] [--runtime vllm] [--path chat|completion]
// The pod runs in its own process (as in a fleet); this process is the load generator, over
// keep-alive connections. Prints one JSON line: {"reqPerSec", "requests", "errors", "p50Ms", "p99Ms", ...}.
// The pod is one Node process (one core for JavaScript); the load generator takes another.

import http from "node:http";
import { parseArgs } from "node:util";
import { startFleet } from "./fleet.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    connections: { type: "string", default: "64" },
    runtime: { type: "string", default: "vllm" },
    path: { type: "string", default: "chat" },
    warmup: { type: "string", default: "1" },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const warmup = Number(values.warmup);

const fleet = await startFleet({
  runtime: values.runtime as "vllm",
  pods: [{ name: "bench-0" }],
  args: [
    "--prefill-overhead-ms",
    "0",
    "--prefill-time-per-token-ms",
    "0",
    "--inter-token-latency-ms",
    "0",
    "--decode-time-per-seq-ms",
    "0",
    "--request-log-size",
    "1000",
  ],
});
const pod = fleet.pods[0];
const chat = values.path === "chat";
const body = JSON.stringify(
  chat
    ? { model: "/models/Qwen3-32B", messages: [{ role: "user", content: "Hello, this is a test" }], max_tokens: 1 }
    : { model: "/models/Qwen3-32B", prompt: "Hello, this is a test", max_tokens: 1 },
);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const reqPath = chat ? "/v1/chat/completions" : "/v1/completions";

function one(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = http.request(
      {
        host: "127.0.0.1",
        port: pod.port,
        path: reqPath,
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve(performance.now() - t) : reject(new Error(`status ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

let measuring = false;
let stop = false;
let count = 0;
let errors = 0;
const lat: number[] = [];
async function worker(): Promise<void> {
  while (!stop) {
    try {
      const ms = await one();
      if (measuring) {
        count++;
        if (lat.length < 200_000) lat.push(ms);
      }
    } catch {
      if (measuring) errors++;
    }
  }
}

const workers = Array.from({ length: connections }, () => worker());
await new Promise((r) => setTimeout(r, warmup * 1000));
measuring = true;
const t0 = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
measuring = false;
const elapsed = (performance.now() - t0) / 1000;
stop = true;
await Promise.all(workers);
agent.destroy();
// cross-check against the pod's own count of finished requests
const st = (await (await fetch(`${pod.url}/debug/state`)).json()) as {
  counters: { finished: { length: number; stop: number } };
};
const podServed = st.counters.finished.length + st.counters.finished.stop;
await fleet.stop();
lat.sort((a, b) => a - b);
const q = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
console.log(
  JSON.stringify({
    reqPerSec: Math.round(count / elapsed),
    requests: count,
    podServedTotal: podServed,
    errors,
    seconds: Number(elapsed.toFixed(2)),
    connections,
    path: reqPath,
    runtime: values.runtime,
    p50Ms: Number(q(0.5).toFixed(2)),
    p99Ms: Number(q(0.99).toFixed(2)),
  }),
);
