// Writes the endpoints file Envoy reads through file-based EDS (path_config_source with
// watched_directory): the new content goes to a temporary file in the same directory, then a rename
// puts it in place. Envoy reloads on the rename, and never reads a half-written file. Several Envoy
// replicas can watch one directory; in Kubernetes it is an emptyDir shared by Envoy and this sidecar.

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ClusterLoadAssignment, endpointsFileText, PODS_CLUSTER } from "./load-assignment.js";

export const ENDPOINTS_FILE = "endpoints.json";

export class EndpointsFile {
  readonly path: string;
  private lastText: string | null = null;
  private seq = 0;
  /** Rewrites that actually changed the file (for tests and /debug). */
  writes = 0;

  constructor(readonly dir: string) {
    this.path = join(dir, ENDPOINTS_FILE);
  }

  /** Writes the assignment if its bytes differ from what is there; returns whether it wrote. */
  write(cla: ClusterLoadAssignment): boolean {
    const text = endpointsFileText(cla);
    if (text === this.lastText) return false;
    if (this.lastText === null) {
      try {
        if (readFileSync(this.path, "utf8") === text) {
          this.lastText = text;
          return false;
        }
      } catch {
        /* not there yet */
      }
    }
    mkdirSync(this.dir, { recursive: true });
    const tmp = join(this.dir, `.${ENDPOINTS_FILE}.${process.pid}.${++this.seq}.tmp`);
    try {
      writeFileSync(tmp, text);
      renameSync(tmp, this.path);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    this.lastText = text;
    this.writes++;
    return true;
  }
}

/** An empty assignment in `dir` unless a file is already there: Envoy needs the file to exist when
 *  it starts (the launcher and the chart's init container write it before Envoy runs). */
export function ensureEndpointsFile(dir: string, clusterName = PODS_CLUSTER): string {
  const f = new EndpointsFile(dir);
  try {
    readFileSync(f.path);
  } catch {
    f.write({
      "@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
      cluster_name: clusterName,
      endpoints: [{ lb_endpoints: [] }],
    });
  }
  return f.path;
}
