import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

pluginTable("queue-imbalance-guard", [
  {
    name: "much deeper than the shortest: at least 8 more and twice as deep",
    endpoints: [ep(0, "a", { waiting: 9 }), ep(1, "b", { waiting: 1 }), ep(2, "c", { waiting: 4 })],
    expect: "a:imbalance,b:none,c:none",
  },
  {
    name: "every pod busy: nobody yields (the collapse this guard replaces)",
    endpoints: [ep(0, "a", { waiting: 30, kvUsage: 0.99 }), ep(1, "b", { waiting: 22 }), ep(2, "c", { waiting: 18 })],
    expect: "a:none,b:none,c:none",
  },
  {
    name: "8 more but not twice as deep",
    endpoints: [ep(0, "a", { waiting: 28 }), ep(1, "b", { waiting: 20 })],
    expect: "a:none,b:none",
  },
  {
    name: "twice as deep but not 8 more",
    endpoints: [ep(0, "a", { waiting: 6 }), ep(1, "b", { waiting: 3 })],
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
