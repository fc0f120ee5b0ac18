// Child processes (Envoy, simulator pods, kube-apiserver, peers) never outlive the Node process
// that started them: one exit hook kills whatever is still registered.
import type { ChildProcess } from "node:child_process";

const live = new Set<ChildProcess>();
let hookInstalled = false;

function running(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

function kill(c: ChildProcess, signal: NodeJS.Signals): void {
  try {
    c.kill(signal);
  } catch {
    /* already gone */
  }
}

/** Kills `child` with SIGKILL if this process exits first; returns the function that forgets it. */
export function killOnExit(child: ChildProcess): () => void {
  if (!hookInstalled) {
    hookInstalled = true;
    process.on("exit", () => {
      for (const c of live) if (running(c)) kill(c, "SIGKILL");
    });
  }
  live.add(child);
  return () => live.delete(child);
}

/** SIGTERM, up to `graceMs` to exit, then SIGKILL; resolves once it has exited, and forgets it. */
export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  live.delete(child);
  if (!running(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => kill(child, "SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    kill(child, "SIGTERM");
  });
}
