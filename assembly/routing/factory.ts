// The one place routing is assembled, for the filter and for the unit tests alike: from the plugin
// configuration, a scheduling profile per routing strategy, each made of the registered plugins
// that join that strategy (registry.ts) with the configured weights.
import { PluginConfig } from "../config";
import { Strategy } from "../table/table";
import { AffinityGuard, Filter, Picker, Scorer } from "./framework";
import { SchedulingProfile } from "./profile";
import { ProfileHandler, SingleProfileHandler } from "./profile-handler";
import { findPlugin, namesOf, PLUGINS, PluginKind, PluginSpec } from "./registry";

const STRATEGIES: Strategy[] = [Strategy.Default, Strategy.PrefixCache];

export function strategyName(s: Strategy): string {
  return s == Strategy.PrefixCache ? "PREFIX_CACHE" : "DEFAULT";
}

/** The assembled routing: a profile handler per strategy. Immutable once built. */
export class Routing {
  constructor(private handlers: ProfileHandler[]) {}
  handlerFor(s: Strategy): ProfileHandler {
    return this.handlers[<i32>s];
  }
}

export class RoutingBuild {
  routing: Routing | null = null;
  error: string = "";
}

function profileFor(s: Strategy, c: PluginConfig): SchedulingProfile {
  const mask: u32 = 1 << (<u32>s);
  let picker: Picker | null = null;
  const filters = new Array<Filter>();
  const guards = new Array<AffinityGuard>();
  const scorers = new Array<Scorer>();
  for (let i = 0; i < PLUGINS.length; i++) {
    const spec = PLUGINS[i];
    if ((spec.strategies & mask) == 0) continue;
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
  const profile = new SchedulingProfile(strategyName(s), picker!);
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
  for (let i = 0; i < STRATEGIES.length; i++) handlers.push(new SingleProfileHandler(profileFor(STRATEGIES[i], c)));
  out.routing = new Routing(handlers);
  return out;
}
