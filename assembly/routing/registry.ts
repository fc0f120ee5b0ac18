// Every routing plugin, by name: what kind it is, which routing strategies' profiles it joins
// (in the order listed here), which stages (a whole request, or a P/D request's prefill or decode
// profile; every stage unless said), and, for scorers, its default weight. Adding a plugin is one file
// plus one line here. Names follow the Gateway API Inference Extension's plugin types where the
// meaning is the same.
import { PluginConfig } from "../config";
import { Strategy } from "../table/table";
import { Plugin } from "./framework";
import { BalanceGuard } from "./plugins/balance-guard";
import { InFlightScorer } from "./plugins/in-flight-scorer";
import { KvCacheScorer } from "./plugins/kv-cache-scorer";
import { LoraAffinityScorer } from "./plugins/lora-affinity-scorer";
import { MaxScorePicker } from "./plugins/max-score-picker";
import { DecodeRoleFilter, PrefillRoleFilter } from "./plugins/pd-role-filters";
import { PrefixCacheScorer } from "./plugins/prefix-cache-scorer";
import { QueueImbalanceGuard } from "./plugins/queue-imbalance-guard";
import { QueueScorer } from "./plugins/queue-scorer";
import { ReadyFilter } from "./plugins/ready-filter";
import { RendezvousPicker } from "./plugins/rendezvous-picker";
import { SaturationFilter } from "./plugins/saturation-filter";
import { WholeRequestRoleFilter } from "./plugins/whole-request-role-filter";
import { SaturationDetector } from "./saturation";

export enum PluginKind {
  Filter = 0,
  Guard = 1,
  Scorer = 2,
  Picker = 3,
}

/** Strategy masks: which strategies' profiles a plugin joins. */
export const DEFAULT: u32 = 1 << (<u32>Strategy.Default);
export const PREFIX_CACHE: u32 = 1 << (<u32>Strategy.PrefixCache);
export const EVERY: u32 = DEFAULT | PREFIX_CACHE;

/** What a profile schedules: a whole request, or one stage of a P/D (disaggregated) request. */
export enum Stage {
  Whole = 0,
  Prefill = 1,
  Decode = 2,
}
/** Stage masks: which stages' profiles a plugin joins. */
export const WHOLE: u32 = 1 << (<u32>Stage.Whole);
export const PREFILL: u32 = 1 << (<u32>Stage.Prefill);
export const DECODE: u32 = 1 << (<u32>Stage.Decode);
export const ANY_STAGE: u32 = WHOLE | PREFILL | DECODE;

export type PluginMaker = (c: PluginConfig) => Plugin;

export class PluginSpec {
  constructor(
    public name: string,
    public kind: PluginKind,
    public strategies: u32,
    public defaultWeight: f64,
    public make: PluginMaker,
    public stages: u32 = ANY_STAGE,
  ) {}
}

function saturation(c: PluginConfig): SaturationDetector {
  return new SaturationDetector(
    c.saturationQueueDepth,
    c.saturationKvUsage,
    c.saturationInFlightLimit,
    c.saturationStalenessMs,
  );
}

// Upstream GIE default weights: queue 2, KV cache 2, prefix 3; in-flight is ours.
export const PLUGINS: PluginSpec[] = [
  new PluginSpec("ready-filter", PluginKind.Filter, EVERY, 0, (c) => new ReadyFilter()),
  new PluginSpec("whole-request-role-filter", PluginKind.Filter, EVERY, 0, (c) => new WholeRequestRoleFilter(), WHOLE),
  new PluginSpec("prefill-role-filter", PluginKind.Filter, EVERY, 0, (c) => new PrefillRoleFilter(), PREFILL),
  new PluginSpec("decode-role-filter", PluginKind.Filter, EVERY, 0, (c) => new DecodeRoleFilter(), DECODE),
  new PluginSpec("saturation-filter", PluginKind.Filter, EVERY, 0, (c) => new SaturationFilter(saturation(c))),
  new PluginSpec(
    "queue-imbalance-guard",
    PluginKind.Guard,
    PREFIX_CACHE,
    0,
    (c) => new QueueImbalanceGuard(c.imbalanceAbs, c.imbalanceRel),
  ),
  new PluginSpec("balance-guard", PluginKind.Guard, PREFIX_CACHE, 0, (c) => new BalanceGuard(c.balanceBound)),
  new PluginSpec(
    "queue-scorer",
    PluginKind.Scorer,
    EVERY,
    2,
    (c) => new QueueScorer(c.saturationQueueDepth > 0 ? c.saturationQueueDepth : 5),
  ),
  new PluginSpec("kv-cache-utilization-scorer", PluginKind.Scorer, EVERY, 2, (c) => new KvCacheScorer()),
  new PluginSpec("in-flight-scorer", PluginKind.Scorer, EVERY, 2, (c) => new InFlightScorer()),
  new PluginSpec("lora-affinity-scorer", PluginKind.Scorer, EVERY, 1, (c) => new LoraAffinityScorer()),
  new PluginSpec("prefix-cache-scorer", PluginKind.Scorer, PREFIX_CACHE, 3, (c) => new PrefixCacheScorer()),
  new PluginSpec("max-score-picker", PluginKind.Picker, DEFAULT, 0, (c) => new MaxScorePicker()),
  new PluginSpec(
    "rendezvous-picker",
    PluginKind.Picker,
    PREFIX_CACHE,
    0,
    (c) => new RendezvousPicker(c.rendezvousTolerance, c.affinityThreshold),
  ),
];

/** Names of the plugins of one kind, comma-separated (error messages). */
export function namesOf(kind: PluginKind): string {
  const out = new Array<string>();
  for (let i = 0; i < PLUGINS.length; i++) if (PLUGINS[i].kind == kind) out.push(PLUGINS[i].name);
  return out.join(", ");
}

export function findPlugin(name: string): PluginSpec | null {
  for (let i = 0; i < PLUGINS.length; i++) if (PLUGINS[i].name == name) return PLUGINS[i];
  return null;
}
