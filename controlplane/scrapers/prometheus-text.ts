// Prometheus text exposition → samples by metric name, through the maintained parser
// (parse-prometheus-text-format) rather than a hand-rolled one. Two quirks of that library (1.1.1,
// read from its source and checked in test/controlplane/prometheus-text.test.ts) are handled here:
//  - a final sample line without a trailing newline is dropped, so a newline is always appended;
//  - a family whose samples are not contiguous comes back as several entries, so entries are merged
//    by name.
// Values arrive as strings; "+Inf"/"-Inf"/"NaN" are Prometheus spellings Number() does not all accept.

import parsePrometheusTextFormat from "parse-prometheus-text-format";

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export type Samples = Map<string, Sample[]>;

export class MetricsError extends Error {
  override name = "MetricsError";
}

export function parseSampleValue(v: string): number {
  switch (v) {
    case "+Inf":
    case "Inf":
      return Infinity;
    case "-Inf":
      return -Infinity;
    case "NaN":
      return NaN;
    default: {
      const n = Number(v);
      if (v.trim() === "" || Number.isNaN(n))
        throw new MetricsError(`sample value ${JSON.stringify(v)} is not a number`);
      return n;
    }
  }
}

export function parseExposition(text: string): Samples {
  let families;
  try {
    families = parsePrometheusTextFormat(text.endsWith("\n") ? text : `${text}\n`);
  } catch (e) {
    throw new MetricsError(`not Prometheus text format: ${(e as Error).message}`);
  }
  const out: Samples = new Map();
  for (const f of families) {
    let list = out.get(f.name);
    if (!list) out.set(f.name, (list = []));
    for (const m of f.metrics) {
      if (m.value === undefined) continue; // histogram/summary aggregates: not used by the scrapers
      list.push({ labels: m.labels ?? {}, value: parseSampleValue(m.value) });
    }
  }
  return out;
}

/** Samples of `name` whose labels include every pair of `match`. */
export function select(samples: Samples, name: string, match: Record<string, string> = {}): Sample[] {
  const list = samples.get(name) ?? [];
  return list.filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

function finite(name: string, list: Sample[]): number[] {
  return list.map((s) => {
    if (!Number.isFinite(s.value)) throw new MetricsError(`${name} is ${s.value}`);
    return s.value;
  });
}

/** Sum over all series (e.g. one per vLLM data-parallel engine); undefined when the metric is absent. */
export function sumOf(samples: Samples, name: string, match?: Record<string, string>): number | undefined {
  const list = select(samples, name, match);
  if (list.length === 0) return undefined;
  return finite(name, list).reduce((a, b) => a + b, 0);
}

/** Mean over all series (a utilisation shared by engines); undefined when absent. */
export function meanOf(samples: Samples, name: string, match?: Record<string, string>): number | undefined {
  const list = select(samples, name, match);
  if (list.length === 0) return undefined;
  return finite(name, list).reduce((a, b) => a + b, 0) / list.length;
}

export function required(name: string, v: number | undefined): number {
  if (v === undefined) throw new MetricsError(`metric ${name} is missing`);
  if (v < 0) throw new MetricsError(`metric ${name} is negative (${v})`);
  return v;
}

export const clamp01 = (v: number) => (v < 0 ? 0 : Math.min(v, 1));
