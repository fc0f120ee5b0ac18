import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

pluginTable("saturation-guard", [
  {
    name: "a pod's own queue or KV at threshold",
    endpoints: [ep(0, "a", { waiting: 5 }), ep(1, "b", { kvUsage: 0.85 }), ep(2, "c", { waiting: 1 })],
    expect: "a:saturated,b:saturated,c:none",
  },
  {
    name: "in-flight alone is not saturation (a pod with batch room runs what the scrape missed)",
    endpoints: [ep(0, "a"), ep(1, "b")],
    inflight: "20,0",
    expect: "a:none,b:none",
  },
  {
    name: "stale load is not trusted",
    endpoints: [ep(0, "a", { waiting: 9 })],
    loadFresh: false,
    expect: "a:none",
  },
  {
    name: "thresholds from the configuration",
    endpoints: [ep(0, "a", { waiting: 5 })],
    config: { saturation: { queueDepth: 10 } },
    expect: "a:none",
  },
]);
