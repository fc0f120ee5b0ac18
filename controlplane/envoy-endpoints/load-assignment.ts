// The pods of every pool as one Envoy ClusterLoadAssignment for the cluster the filter routes
// through (envoy/bootstrap.yaml: infergate_pods). Each endpoint carries the pools it serves as
// envoy.lb metadata ("pool": [ids]), which is how the cluster's fallback policy stays inside the
// request's pool, and the pod's name as hostname (admin /clusters, access logs).
//
// Deterministic: endpoints sorted by address, pools sorted, so an unchanged model renders the same
// bytes and the file is not rewritten.

import { parseAddress } from "../model/address.js";
import type { Table } from "../table/schema.js";

export const PODS_CLUSTER = "infergate_pods";

export interface LbEndpoint {
  endpoint: {
    address: { socket_address: { address: string; port_value: number } };
    hostname: string;
  };
  metadata: { filter_metadata: { "envoy.lb": { pool: string[] } } };
}

export interface ClusterLoadAssignment {
  "@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
  cluster_name: string;
  endpoints: { lb_endpoints: LbEndpoint[] }[];
}

/** Every endpoint of every pool in the table, ready or not (Envoy health-checks them all; the
 *  table decides which are routed to). An address in two pools is one host listing both. */
export function loadAssignment(table: Pick<Table, "pools">, clusterName = PODS_CLUSTER): ClusterLoadAssignment {
  const byAddress = new Map<string, { name: string; pools: Set<string> }>();
  for (const p of table.pools) {
    for (const e of p.endpoints) {
      const cur = byAddress.get(e.address);
      if (cur) cur.pools.add(p.id);
      else byAddress.set(e.address, { name: e.name, pools: new Set([p.id]) });
    }
  }
  const lbEndpoints: LbEndpoint[] = [...byAddress.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([address, h]) => {
      const { ip, port } = parseAddress(address);
      return {
        endpoint: { address: { socket_address: { address: ip, port_value: port } }, hostname: h.name },
        metadata: { filter_metadata: { "envoy.lb": { pool: [...h.pools].sort() } } },
      };
    });
  return {
    "@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
    cluster_name: clusterName,
    // One locality group, empty or not: an empty lb_endpoints list is a valid "no hosts".
    endpoints: [{ lb_endpoints: lbEndpoints }],
  };
}

/** The file Envoy's path_config_source reads: a DiscoveryResponse-shaped list of resources. */
export function endpointsFileText(cla: ClusterLoadAssignment): string {
  return `${JSON.stringify({ version_info: "", resources: [cla] }, null, 1)}\n`;
}
