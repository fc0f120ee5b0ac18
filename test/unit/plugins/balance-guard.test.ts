import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

const four = [ep(0, "a"), ep(1, "b"), ep(2, "c"), ep(3, "d")];
pluginTable("balance-guard", [
  // capacity = ceil(1.25 * (total + 1) / n) + 3
  { name: "idle fleet", endpoints: four, expect: "a:none,b:none,c:none,d:none" },
  {
    name: "6 of 7 in flight (capacity 6)",
    endpoints: four,
    inflight: "6,1,0,0",
    expect: "a:balance,b:none,c:none,d:none",
  },
  { name: "5 of 6 (capacity 6)", endpoints: four, inflight: "5,1,0,0", expect: "a:none,b:none,c:none,d:none" },
  { name: "12 of 20 (capacity 10)", endpoints: four, inflight: "12,4,4,0", expect: "a:balance,b:none,c:none,d:none" },
  {
    name: "bound 0 turns it off",
    endpoints: four,
    inflight: "60,1,0,0",
    config: { balanceBound: 0 },
    expect: "a:none,b:none,c:none,d:none",
  },
]);
