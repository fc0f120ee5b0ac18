import { ep } from "../pure.js";
import { pluginTable } from "./harness.js";

const four = [ep(0, "a"), ep(1, "b"), ep(2, "c"), ep(3, "d")];
pluginTable("balance-guard", [
  // capacity = ceil(1.5 * (total + 1) / n) + 3
  { name: "idle fleet", endpoints: four, expect: "a:none,b:none,c:none,d:none" },
  {
    name: "6 of 7 in flight (capacity 6)",
    endpoints: four,
    inflight: "6,1,0,0",
    expect: "a:balance,b:none,c:none,d:none",
  },
  { name: "5 of 6 (capacity 6)", endpoints: four, inflight: "5,1,0,0", expect: "a:none,b:none,c:none,d:none" },
  { name: "11 of 19 (capacity 11)", endpoints: four, inflight: "11,4,4,0", expect: "a:balance,b:none,c:none,d:none" },
  { name: "10 of 18 (capacity 11)", endpoints: four, inflight: "10,4,4,0", expect: "a:none,b:none,c:none,d:none" },
  {
    name: "the bound from the configuration: 1.25 of 19 is 10",
    endpoints: four,
    inflight: "10,4,5,0",
    config: { balanceBound: 1.25 },
    expect: "a:balance,b:none,c:none,d:none",
  },
  {
    name: "bound 0 turns it off",
    endpoints: four,
    inflight: "60,1,0,0",
    config: { balanceBound: 0 },
    expect: "a:none,b:none,c:none,d:none",
  },
]);
