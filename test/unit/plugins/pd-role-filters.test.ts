import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

const fleet = [ep(0, "p", { role: "prefill" }), ep(1, "d", { role: "decode" }), ep(2, "w", { role: "both" })];

pluginTable("prefill-role-filter", [
  { name: "keeps prefill pods only", endpoints: fleet, expect: "p" },
  { name: "no prefill pod", endpoints: [ep(0, "d", { role: "decode" }), ep(1, "w")], expect: "" },
]);

pluginTable("decode-role-filter", [
  { name: "keeps decode pods only", endpoints: fleet, expect: "d" },
  { name: "no decode pod", endpoints: [ep(0, "p", { role: "prefill" }), ep(1, "w")], expect: "" },
]);
