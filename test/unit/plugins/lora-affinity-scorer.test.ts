import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

// The harness's request targets model "m": here "m" plays the LoRA adapter.
pluginTable("lora-affinity-scorer", [
  {
    name: "pods with the adapter loaded score 1",
    endpoints: [ep(0, "a", { loras: ["m", "other"] }), ep(1, "b", { loras: ["other"] }), ep(2, "c")],
    expect: "a:1.0,b:0.0,c:0.0",
  },
  {
    name: "no pod has it loaded: no opinion",
    endpoints: [ep(0, "a", { loras: ["other"] }), ep(1, "b")],
    expect: "!not-applicable",
  },
]);
