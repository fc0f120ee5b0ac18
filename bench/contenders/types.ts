// One interface for every contender: start(fleet) gives a URL that serves the OpenAI API over that
// fleet, the contender's version and flags (recorded in the results), and stop().

import type { EnvoyInstance } from "../../scripts/lib/envoy-process.js";
import type { Fleet } from "../../test/sim/fleet.js";

export interface ContenderInstance {
  url: string;
  version: string;
  flags: string[];
  /** infergate only: the Envoy replica, whose log carries the filter's "Request Handled" lines */
  envoy?: EnvoyInstance;
  /** every replica's URL when the contender runs several (url is the first) */
  urls?: string[];
  /** the gateway's own processes (Envoy, an ext_proc server, a router): their /proc CPU is its cost */
  pids: number[];
  stop(): Promise<void>;
}

export interface StartOptions {
  /** infergate: extra pool settings (criticality, extra models, annotations merged over the contender's) */
  pool?: {
    criticality?: "Critical" | "Standard" | "Sheddable";
    extraModels?: Record<string, "Critical" | "Standard" | "Sheddable">;
    annotations?: Record<string, string>;
  };
}

export interface Contender {
  id: string;
  /** what the reports call it */
  label: string;
  kind: "direct" | "envoy" | "infergate" | "peer";
  /** null when it can run here; otherwise why not (install error), reported, never dropped silently */
  unavailable(): string | null;
  start(fleet: Fleet, opts?: StartOptions): Promise<ContenderInstance>;
}
