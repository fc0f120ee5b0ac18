import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

pluginTable("kv-cache-utilization-scorer", [
  {
    name: "1 - usage, absolute",
    endpoints: [ep(0, "a"), ep(1, "b", { kvUsage: 0.25 }), ep(2, "c", { kvUsage: 1 })],
    expect: "a:1.0,b:0.75,c:0.0",
  },
  { name: "stale load says nothing", endpoints: [ep(0, "a")], loadFresh: false, expect: "!not-applicable" },
]);
