import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

const fresh = { scrapeAgeMs: 5 };
pluginTable("saturation-filter", [
  { name: "only when queueing bounds the pool", endpoints: [ep(0, "a")], bounded: false, expect: "!not-applicable" },
  {
    name: "queue depth 5 or KV 0.8 saturate",
    endpoints: [ep(0, "a", { waiting: 5 }), ep(1, "b", { kvUsage: 0.8 }), ep(2, "c", { waiting: 4, kvUsage: 0.79 })],
    bounded: true,
    expect: "c",
  },
  {
    name: "requests the scrape has not seen yet count as waiting",
    endpoints: [ep(0, "a", { running: 2, waiting: 0, ...fresh }), ep(1, "b")],
    inflight: "7,0",
    bounded: true,
    expect: "b",
  },
  {
    name: "stale or missing metrics saturate",
    endpoints: [ep(0, "a", { scrapeAgeMs: 5000 }), ep(1, "b", { scrapeAgeMs: -1 }), ep(2, "c")],
    bounded: true,
    expect: "c",
  },
  {
    name: "the gateway's in-flight limit",
    endpoints: [ep(0, "a"), ep(1, "b")],
    inflight: "2,1",
    config: { saturation: { inFlightLimit: 2 } },
    bounded: true,
    expect: "b",
  },
]);
