// Transpiles every TypeScript file of the Node side (controlplane/, test/, scripts/, bench/) to
// build/js/<same path>.js with esbuild: one file in, one file out, no bundling, so stack traces and
// imports keep their paths. Type checking is `npm run typecheck` (tsc --noEmit), run by `make test`.

import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const roots = ["controlplane", "test", "scripts", "bench"];
const skip = new Set(["node_modules", "assembly"]); // test/assembly holds AssemblyScript, not TS
function walk(dir, out) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) {
      if (!skip.has(n)) walk(p, out);
    } else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) out.push(p);
  }
  return out;
}
const entryPoints = roots.flatMap((r) => walk(r, []));
// From scratch: a source that was deleted or renamed must not leave a stale test behind.
rmSync("build/js", { recursive: true, force: true });
await build({
  entryPoints,
  outdir: "build/js",
  outbase: ".",
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "inline",
  logLevel: "warning",
});
console.log(`build-ts: ${entryPoints.length} files -> build/js/`);
