// Where the repository is, from wherever a compiled file runs (build/js/<same path>.js).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The nearest `rel` at or above `from` (default: this file's folder); throws when there is none. */
export function findUp(rel: string, from: string = dirname(fileURLToPath(import.meta.url))): string {
  let d = from;
  for (;;) {
    const p = join(d, rel);
    if (existsSync(p)) return p;
    const up = dirname(d);
    if (up === d) throw new Error(`no ${rel} above ${from}`);
    d = up;
  }
}

/** The repository root: the folder of the nearest package.json. */
export const REPO_ROOT = dirname(findUp("package.json"));
