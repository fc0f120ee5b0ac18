// The one place routing is assembled, for the filter and for the unit tests alike: from the plugin
// configuration, a scheduling profile per routing strategy and stage, each made of the registered
// plugins that join that strategy and stage (registry.ts) with the configured weights. A whole
// request's pool gets one profile per strategy; a P/D pool a prefill and a decode profile, each with
// its own strategy (the InferenceTrafficPolicy's prefillPolicyRef / decodePolicyRef).
import { PluginConfig } from "../config";
import { Pool, Strategy } from "../table/table";
import { AffinityGuard, Filter, Picker, Scorer } from "./framework";
import { SchedulingProfile } from "./profile";
import { PdProfileHandler, ProfileHandler, SingleProfileHandler } from "./profile-handler";
import { findPlugin, namesOf, PLUGINS, PluginKind, PluginSpec, Stage } from "./registry";

const STRATEGIES: Strategy[] = [Strategy.Default, Strategy.PrefixCache];

export function strategyName(s: Strategy): string {
  return s == Strategy.PrefixCache ? "PREFIX_CACHE" : "DEFAULT";
}

export function stageName(s: Stage): string {
  return s == Stage.Prefill ? "prefill" : s == Stage.Decode ? "decode" : "whole";
}

/** The assembled routing: a profile handler per strategy, and per pair of stage strategies for
 *  P/D pools. Immutable once built. */
export class Routing {
  constructor(
    private handlers: ProfileHandler[],
    /** [prefill strategy * STRATEGIES.length + decode strategy] */
    private pdHandlers: ProfileHandler[],
  ) {}
  handlerFor(s: Strategy): ProfileHandler {
    return this.handlers[<i32>s];
  }
  /** The handler for a pool: P/D pools run both stages with their own strategies. */
  handlerOf(pool: Pool): ProfileHandler {
    if (!pool.hasPd) return this.handlers[<i32>pool.strategy];
    return this.pdHandlers[<i32>pool.prefillStrategy * STRATEGIES.length + <i32>pool.decodeStrategy];
  }
}

export class RoutingBuild {
  routing: Routing | null = null;
  error: string = "";
}

function profileFor(s: Strategy, stage: Stage, c: PluginConfig): SchedulingProfile {
  const mask: u32 = 1 << (<u32>s);
  const stageMask: u32 = 1 << (<u32>stage);
  let picker: Picker | null = null;
  const filters = new Array<Filter>();
  const guards = new Array<AffinityGuard>();
  const scorers = new Array<Scorer>();
  for (let i = 0; i < PLUGINS.length; i++) {
    const spec = PLUGINS[i];
    if ((spec.strategies & mask) == 0 || (spec.stages & stageMask) == 0) continue;
    const p = spec.make(c);
    if (spec.kind == PluginKind.Filter) filters.push(changetype<Filter>(p));
    else if (spec.kind == PluginKind.Guard) guards.push(changetype<AffinityGuard>(p));
    else if (spec.kind == PluginKind.Picker) picker = changetype<Picker>(p);
    else {
      const sc = changetype<Scorer>(p);
      sc.weight = c.weightOf(spec.name, spec.defaultWeight);
      scorers.push(sc);
    }
  }
  // A stage's name is what a refusal names ("no ready endpoint in pool p (prefill)").
  const profile = new SchedulingProfile(stage == Stage.Whole ? strategyName(s) : stageName(stage), picker!);
  profile.strategy = s;
  profile.filters = filters;
  profile.guards = guards;
  profile.scorers = scorers;
  return profile;
}

/** Builds the routing the configuration describes, or says what is wrong with it. */
export function buildRouting(c: PluginConfig): RoutingBuild {
  const out = new RoutingBuild();
  const names = c.weights.keys();
  for (let i = 0; i < names.length; i++) {
    const spec: PluginSpec | null = findPlugin(names[i]);
    if (spec === null || spec.kind != PluginKind.Scorer) {
      out.error = `unknown weight "${names[i]}": weights name scorers (known: ${namesOf(PluginKind.Scorer)})`;
      return out;
    }
  }
  const handlers = new Array<ProfileHandler>();
  for (let i = 0; i < STRATEGIES.length; i++)
    handlers.push(new SingleProfileHandler(profileFor(STRATEGIES[i], Stage.Whole, c)));
  // Every P/D handler has profiles (and plugin instances) of its own: plugins keep per-decision
  // state, and the two stages of one decision must not share it.
  const pd = new Array<ProfileHandler>();
  for (let p = 0; p < STRATEGIES.length; p++)
    for (let d = 0; d < STRATEGIES.length; d++)
      pd.push(
        new PdProfileHandler(profileFor(STRATEGIES[p], Stage.Prefill, c), profileFor(STRATEGIES[d], Stage.Decode, c)),
      );
  out.routing = new Routing(handlers, pd);
  return out;
}
