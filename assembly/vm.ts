// What one Envoy worker's VM shares between its roots (the public gateway and the control
// listener run in the same vm_id): the shared-data-backed state every worker sees.
import { HostClock } from "./host/clock";
import { HostSharedData } from "./host/shared-data";
import { InFlightCounters } from "./state/inflight";
import { PoolStates } from "./state/pool-states";
import { QueueLedger } from "./state/queue-ledger";
import { TableStore } from "./state/table-store";

export const shared = new HostSharedData();
export const inflight = new InFlightCounters(shared);
export const tables = new TableStore(shared, inflight);
export const ledger = new QueueLedger(shared);
export const poolStates = new PoolStates(shared, new HostClock());
