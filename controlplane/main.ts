// Entry point of the sidecar. Run: node build/js/controlplane/main.js --help
// `main.js status [--url URL]` is the operator's command instead (infergate status): it prints the
// running control plane's status view (controlplane/status/status-command.ts).
// Prints one JSON line on stdout once the API listens: {"controlplane":"127.0.0.1:PORT"} (scripts and
// tests read it to find a port-0 listener); logs go to stderr. SIGTERM/SIGINT stop it cleanly.

import { pathToFileURL } from "node:url";
import { parseCli, USAGE, UsageError } from "./cli.js";
import { startControlPlane } from "./control-plane.js";
import { createLogger } from "./log.js";
import { runStatusCommand } from "./status/status-command.js";
import { tableUrl } from "./table/pusher.js";

export { parseCli } from "./cli.js";
export { type ControlPlane, type ControlPlaneOptions, DEFAULTS, startControlPlane } from "./control-plane.js";

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "status") return runStatusCommand(argv.slice(1));
  let cli;
  try {
    cli = parseCli(argv);
    for (const t of cli.options.envoyControl) tableUrl(t); // fail on a bad target before starting anything
  } catch (e) {
    if (e instanceof UsageError && e.message === "") {
      process.stdout.write(USAGE);
      return 0;
    }
    process.stderr.write(`controlplane: ${(e as Error).message}\n\n${e instanceof UsageError ? USAGE : ""}`);
    return 2;
  }
  const logger = createLogger({ level: cli.logLevel, component: "controlplane" });
  let cp;
  try {
    cp = await startControlPlane({ ...cli.options, logger });
  } catch (e) {
    logger.error("control plane failed to start", { error: (e as Error).message });
    return 1;
  }
  process.stdout.write(`${JSON.stringify({ controlplane: cp.address })}\n`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      logger.info("stopping", { signal: sig });
      void cp.stop().then(resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`controlplane: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
