// Renders a bench run's reports from its raw results: the pictures, summary.md and the compact
// results.json in the run's folder, then the committed part (everything but raw.json) into
// bench/results/latest/ (raw.json is copied too: git-ignored, for the next re-render). run.ts calls
// this at the end of a run; by hand it re-renders an earlier run after a change to the report:
//   node build/js/bench/report/render.js bench/results/<timestamp>
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { compactResults } from "./compact.js";
import { goals } from "./goals.js";
import { writePictures } from "./pictures.js";
import { writeSummary } from "./summary.js";

/* eslint-disable @typescript-eslint/no-explicit-any */
export function renderRun(results: Record<string, any>, outDir: string): string {
  results.goals = goals(results);
  writeFileSync(join(outDir, "raw.json"), JSON.stringify(results));
  const pictures = writePictures(results, outDir);
  const md = writeSummary(results, outDir, pictures);
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify(compactResults(results), null, 1)}\n`);
  const latest = join(REPO_ROOT, "bench/results/latest");
  if (resolve(outDir) !== resolve(latest)) {
    rmSync(latest, { recursive: true, force: true });
    mkdirSync(latest, { recursive: true });
    for (const f of readdirSync(outDir)) copyFileSync(join(outDir, f), join(latest, f));
  }
  return md;
}

const isMain = process.argv[1]?.endsWith("report/render.js");
if (isMain) {
  const dir = process.argv[2];
  if (!dir) {
    console.error("usage: node build/js/bench/report/render.js bench/results/<timestamp>");
    process.exit(2);
  }
  renderRun(JSON.parse(readFileSync(join(dir, "raw.json"), "utf8")), dir);
  console.log(`rendered ${dir} and copied it to bench/results/latest/`);
}
