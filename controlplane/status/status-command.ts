// `infergate status`: the status view in a terminal. Reads the control plane's GET /status.json
// (the same snapshot the HTML page renders) and prints it as text, once or every --watch interval.

import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { parseDurationMs } from "../model/duration.js";
import { renderStatusText } from "./status-text.js";
import type { StatusSnapshot } from "./status-view.js";

/** The chart's control plane API port (values.yaml controlPlane.port) and `make up`'s. */
export const DEFAULT_STATUS_URL = "http://127.0.0.1:9090";

export const STATUS_USAGE = `usage: infergate status [--url URL] [--json] [--watch DUR]

  --url URL    the control plane's API (default $INFERGATE_CONTROLPLANE_URL, else ${DEFAULT_STATUS_URL};
               in a cluster: kubectl -n NS port-forward deploy/infergate 9090)
  --json       print the snapshot as JSON (GET /status.json) instead of text
  --watch DUR  print again every DUR (e.g. 2s) until interrupted
`;

export async function fetchStatus(url: string, timeoutMs = 5000): Promise<StatusSnapshot> {
  const target = `${url.replace(/\/+$/, "")}/status.json`;
  let res: Response;
  try {
    res = await fetch(target, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `cannot reach the control plane at ${target}: ${cause?.message ?? cause?.code ?? (e as Error).message}`,
    );
  }
  if (!res.ok) throw new Error(`${target}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as StatusSnapshot;
}

export async function runStatusCommand(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: "string" },
        json: { type: "boolean" },
        watch: { type: "string" },
        help: { type: "boolean" },
      },
    }));
  } catch (e) {
    err(`infergate status: ${(e as Error).message}\n\n${STATUS_USAGE}`);
    return 2;
  }
  if (values.help) {
    out(STATUS_USAGE);
    return 0;
  }
  let watchMs: number | null = null;
  if (values.watch !== undefined) {
    try {
      watchMs = parseDurationMs(values.watch);
    } catch (e) {
      err(`infergate status: --watch ${JSON.stringify(values.watch)}: ${(e as Error).message}\n`);
      return 2;
    }
    if (!(watchMs > 0)) {
      err(`infergate status: --watch ${values.watch}: must be positive\n`);
      return 2;
    }
  }
  const url = values.url ?? process.env.INFERGATE_CONTROLPLANE_URL ?? DEFAULT_STATUS_URL;
  for (;;) {
    try {
      const s = await fetchStatus(url);
      out(values.json ? `${JSON.stringify(s, null, 2)}\n` : renderStatusText(s));
    } catch (e) {
      err(`infergate status: ${(e as Error).message}\n`);
      if (watchMs === null) return 1;
    }
    if (watchMs === null) return 0;
    await sleep(watchMs);
    out("\n");
  }
}
