import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

pluginTable("whole-request-role-filter", [
  { name: "both roles serve whole requests", endpoints: [ep(0, "a"), ep(1, "b")], expect: "a,b" },
  {
    name: "prefill-only and decode-only pods cannot",
    endpoints: [ep(0, "a", { role: "prefill" }), ep(1, "b", { role: "decode" }), ep(2, "c")],
    expect: "c",
  },
]);
