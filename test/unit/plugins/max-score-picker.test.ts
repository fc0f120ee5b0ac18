import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

const three = [ep(0, "a"), ep(1, "b"), ep(2, "c")];
pluginTable("max-score-picker", [
  { name: "best first, then fallbacks in order", endpoints: three, scores: "a:0.2,b:0.9,c:0.5", expect: "b,c,a" },
  { name: "two candidates", endpoints: three.slice(0, 2), scores: "a:0.7,b:0.1", expect: "a,b" },
]);
