// Not a gateway: requests go straight to the first pod. The floor of everything (it measures the
// load generator and the pod themselves).
import type { Contender } from "./types.js";

export const direct: Contender = {
  id: "direct",
  label: "direct to pod",
  kind: "direct",
  unavailable: () => null,
  async start(fleet) {
    return {
      url: fleet.pods[0].url,
      version: "-",
      pids: [],
      flags: [`pod ${fleet.pods[0].name}`],
      async stop() {
        /* nothing */
      },
    };
  },
};
