// The SVG pictures of one run, each titled with its workload; TTFT always on a log axis (the
// contenders span tens of milliseconds to tens of seconds). Drawn from the full in-memory results
// (raw samples included), so they are made before the results are compacted.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { barChart, cdfChart, lineChart } from "./svg.js";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

export function writePictures(r: Any, dir: string): string[] {
  const files: string[] = [];
  const put = (name: string, svg: string) => {
    writeFileSync(join(dir, name), svg);
    files.push(name);
  };
  const ramp = (r.scenarios.ramp?.rows ?? []).filter((x: Any) => x.stages?.length);
  if (ramp.length) {
    const curve = (f: (s: Any) => number | null) =>
      ramp.map((x: Any) => ({
        name: x.label,
        points: x.stages.map((s: Any) => [s.rate, f(s)]).filter((p: Any) => p[1] !== null) as [number, number][],
      }));
    put(
      "ramp-throughput.svg",
      lineChart({
        title: "Workload 1, shared-prefix ramp: output tokens/s per QPS step",
        xLabel: "offered load, requests/s",
        yLabel: "output tokens/s (completed in step)",
        markers: true,
        series: curve((s) => s.outputTokPerS),
      }),
    );
    put(
      "ramp-ttft-p90.svg",
      lineChart({
        title: "Workload 1, shared-prefix ramp: TTFT p90 per QPS step",
        xLabel: "offered load, requests/s",
        yLabel: "TTFT p90, ms (log)",
        logY: true,
        markers: true,
        series: curve((s) => s.ttftMs.p90),
      }),
    );
    put(
      "ramp-hit-rate.svg",
      lineChart({
        title: "Workload 1, shared-prefix ramp: pods' prefix-cache hit rate",
        xLabel: "offered load, requests/s",
        yLabel: "cached / prompt tokens",
        yMax: 1,
        markers: true,
        series: curve((s) => s.podHitRate),
      }),
    );
  }
  const lp = (r.scenarios.longPrompt?.rows ?? []).filter((x: Any) => x.ttftMs);
  if (lp.length) {
    const cats = [...new Set(lp.map((x: Any) => x.label))] as string[];
    const concs = [...new Set(lp.map((x: Any) => x.concurrency))] as number[];
    put(
      "long-prompt-ttft.svg",
      barChart({
        title: "Workload 2, 220 KB prompts: TTFT p99 (near-instant pods)",
        yLabel: "TTFT p99, ms (log)",
        logY: true,
        categories: cats,
        series: concs.map((c) => ({
          name: `${c} concurrent`,
          values: cats.map((l) => lp.find((x: Any) => x.label === l && x.concurrency === c)?.ttftMs.p99 ?? null),
        })),
      }),
    );
    put(
      "long-prompt-throughput.svg",
      barChart({
        title: "Workload 2, 220 KB prompts: throughput",
        yLabel: "requests/s",
        categories: cats,
        series: concs.map((c) => ({
          name: `${c} concurrent`,
          values: cats.map((l) => lp.find((x: Any) => x.label === l && x.concurrency === c)?.throughputRps ?? null),
        })),
      }),
    );
  }
  const rep = (r.scenarios.replicas?.rows ?? []).filter((x: Any) => x.summary);
  if (rep.length) {
    const cats = [...new Set(rep.map((x: Any) => x.label))] as string[];
    put(
      "replicas-hit-rate.svg",
      barChart({
        title: "Workload 3, two gateway replicas: pods' hit rate",
        yLabel: "hit rate",
        categories: cats,
        series: [1, 2].map((k) => ({
          name: `${k} replica${k > 1 ? "s" : ""}`,
          values: cats.map((l) => rep.find((x: Any) => x.label === l && x.replicas === k)?.podMetricsHitRate ?? null),
        })),
      }),
    );
  }
  const hot = (r.scenarios.hotSpot?.rows ?? []).filter((x: Any) => x.summary);
  if (hot.length)
    put(
      "hot-spot-load.svg",
      barChart({
        title: "Workload 4, hot spot (one prompt, half the traffic): max/mean pod load",
        yLabel: "max / mean requests per pod",
        categories: hot.map((x: Any) => x.label),
        series: [{ name: "", values: hot.map((x: Any) => x.maxOverMeanLoad) }],
        refLines: [{ y: 1.25, label: "goal 1.25" }],
      }),
    );
  const un = (r.scenarios.uneven?.rows ?? []).filter((x: Any) => x.summary);
  if (un.length)
    put(
      "uneven-fleet-ttft.svg",
      barChart({
        title: "Workload 5, uneven fleet (one pod half as fast): TTFT",
        yLabel: "TTFT, ms (log)",
        logY: true,
        categories: un.map((x: Any) => x.label),
        series: ["p50", "p90"].map((p) => ({ name: p, values: un.map((x: Any) => x.summary.ttftMs[p]) })),
      }),
    );
  const rampCdf = ramp.filter((x: Any) => x.ttftSamplesMs?.length);
  if (rampCdf.length)
    put(
      "ramp-ttft-cdf.svg",
      cdfChart({
        title: "Workload 1, shared-prefix ramp: TTFT over all steps",
        xLabel: "TTFT, ms (log)",
        logX: true,
        series: rampCdf.map((x: Any) => ({ name: x.label, values: x.ttftSamplesMs })),
      }),
    );
  const ov = (r.scenarios.overhead?.rows ?? []).filter((x: Any) => x.rps);
  if (ov.length) {
    const cats = [...new Set(ov.map((x: Any) => x.label))] as string[];
    const bodies = [...new Set(ov.map((x: Any) => x.body))] as string[];
    put(
      "overhead-cpu.svg",
      barChart({
        title: "Overhead (wrk, zero-latency pods): gateway CPU per request",
        yLabel: "CPU µs per request (/proc)",
        categories: cats.filter((c) => ov.some((x: Any) => x.label === c && x.cpuPerRequestUs !== null)),
        series: bodies.map((b) => ({
          name: `${b} body`,
          values: cats
            .filter((c) => ov.some((x: Any) => x.label === c && x.cpuPerRequestUs !== null))
            .map((c) => ov.find((x: Any) => x.label === c && x.body === b)?.cpuPerRequestUs ?? null),
        })),
      }),
    );
    put(
      "overhead-throughput.svg",
      barChart({
        title: "Overhead (wrk, zero-latency pods): throughput at saturation",
        yLabel: "requests/s",
        categories: cats,
        series: bodies.map((b) => ({
          name: `${b} body`,
          values: cats.map((c) => ov.find((x: Any) => x.label === c && x.body === b)?.rps ?? null),
        })),
      }),
    );
  }
  const d = r.scenarios.scale?.decision ?? [];
  if (d.length) {
    const kbs = [...new Set(d.map((x: Any) => x.promptKb))].sort((a: Any, b: Any) => a - b) as number[];
    const series = kbs.map((kb) => ({
      name: `PREFIX_CACHE ${kb} KB`,
      points: d
        .filter((x: Any) => x.promptKb === kb && x.strategy === "PREFIX_CACHE")
        .map((x: Any) => [x.endpoints, x.decisionUs.p50] as [number, number]),
    }));
    series.push({
      name: "DEFAULT 8 KB",
      points: d
        .filter((x: Any) => x.strategy === "DEFAULT")
        .map((x: Any) => [x.endpoints, x.decisionUs.p50] as [number, number]),
    });
    put(
      "decision-time.svg",
      lineChart({
        title: "Scale: filter decision time (median, inside the wasm)",
        xLabel: "endpoints (log)",
        yLabel: "decision, µs (log)",
        logX: true,
        logY: true,
        markers: true,
        series,
      }),
    );
  }
  return files;
}
