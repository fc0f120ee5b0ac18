import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

pluginTable("queue-scorer", [
  {
    name: "1 / (1 + waiting / 5)",
    endpoints: [ep(0, "a"), ep(1, "b", { waiting: 5 }), ep(2, "c", { waiting: 15 })],
    expect: "a:1.0,b:0.5,c:0.25",
  },
  { name: "stale load says nothing", endpoints: [ep(0, "a")], loadFresh: false, expect: "!not-applicable" },
  {
    name: "scale is the saturation queue depth",
    endpoints: [ep(0, "a", { waiting: 10 })],
    config: { saturation: { queueDepth: 10 } },
    expect: "a:0.5",
  },
]);
