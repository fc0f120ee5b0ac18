import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

pluginTable("queue-imbalance-guard", [
  {
    name: "much deeper than the shortest: at least 32 more and 1.5 times as deep",
    endpoints: [ep(0, "a", { waiting: 36 }), ep(1, "b", { waiting: 4 }), ep(2, "c", { waiting: 20 })],
    expect: "a:imbalance,b:none,c:none",
  },
  {
    name: "every pod busy: nobody yields (the collapse this guard replaces)",
    endpoints: [ep(0, "a", { waiting: 90, kvUsage: 0.99 }), ep(1, "b", { waiting: 70 }), ep(2, "c", { waiting: 64 })],
    expect: "a:none,b:none,c:none",
  },
  {
    name: "32 more but not 1.5 times as deep",
    endpoints: [ep(0, "a", { waiting: 100 }), ep(1, "b", { waiting: 68 })],
    expect: "a:none,b:none",
  },
  {
    name: "1.5 times as deep but not 32 more",
    endpoints: [ep(0, "a", { waiting: 30 }), ep(1, "b", { waiting: 3 })],
    expect: "a:none,b:none",
  },
  {
    name: "stale load is not trusted",
    endpoints: [ep(0, "a", { waiting: 50 }), ep(1, "b")],
    loadFresh: false,
    expect: "a:none,b:none",
  },
  {
    name: "thresholds from the configuration",
    endpoints: [ep(0, "a", { waiting: 4 }), ep(1, "b", { waiting: 1 })],
    config: { imbalance: { abs: 2, rel: 3 } },
    expect: "a:imbalance,b:none",
  },
]);
