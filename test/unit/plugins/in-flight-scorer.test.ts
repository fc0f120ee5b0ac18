import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

pluginTable("in-flight-scorer", [
  {
    name: "1 - inflight / (max + 1)",
    endpoints: [ep(0, "a"), ep(1, "b"), ep(2, "c")],
    inflight: "0,1,3",
    expect: "a:1.0,b:0.75,c:0.25",
  },
  { name: "all idle", endpoints: [ep(0, "a"), ep(1, "b")], expect: "a:1.0,b:1.0" },
  {
    name: "counts even when scraped load is stale",
    endpoints: [ep(0, "a"), ep(1, "b")],
    inflight: "1,0",
    loadFresh: false,
    expect: "a:0.5,b:1.0",
  },
]);
