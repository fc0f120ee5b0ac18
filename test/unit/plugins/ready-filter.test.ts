import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

pluginTable("ready-filter", [
  { name: "all ready", endpoints: [ep(0, "a"), ep(1, "b")], expect: "a,b" },
  { name: "not ready left out", endpoints: [ep(0, "a", { ready: false }), ep(1, "b")], expect: "b" },
  { name: "none ready", endpoints: [ep(0, "a", { ready: false })], expect: "" },
]);
