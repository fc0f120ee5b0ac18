// Decodes and validates the control plane's JSON push into a Table (versions 1 and 2 of
// controlplane/table/schema.ts). Every field is checked once here; the first problem is reported
// with its path (table.pools[0].endpoints[2].kvUsage: ...). Objectives and routes: decode-routes.ts.
import {
  DEFAULT_BLOCK_SIZE,
  DEFAULT_FIRST_BYTE_TIMEOUT_MS,
  DEFAULT_LRU_CAPACITY,
  DEFAULT_MAX_BLOCKS,
  DEFAULT_PREFIX_MODE,
  DEFAULT_QUEUE_CAPACITY_BYTES,
  DEFAULT_QUEUE_TTL_MS,
} from "../defaults";
import { JsonParser } from "../json/parser";
import { JsonKind, JsonValue } from "../json/value";
import { xxh64String } from "../prefix/xxhash64";
import { decodeObjectives, decodeRoutes } from "./decode-routes";
import { Reader } from "./field-reader";
import {
  Criticality,
  criticalityOfPriority,
  Endpoint,
  MAX_LOAD_COUNT,
  MAX_PRIORITY,
  MAX_SAFE_NUMBER,
  MAX_SLOTS,
  MIN_PRIORITY,
  Model,
  Pool,
  priorityOfCriticality,
  Role,
  Strategy,
  TABLE_VERSION,
  TABLE_VERSION_ROUTES,
  Table,
  TargetModel,
} from "./table";

export class TableDecodeResult {
  table: Table | null = null;
  error: string = "";
}

function strategyOf(s: string, r: Reader, path: string): Strategy {
  if (s == "DEFAULT") return Strategy.Default;
  if (s == "PREFIX_CACHE") return Strategy.PrefixCache;
  r.fail(path, `must be DEFAULT or PREFIX_CACHE, got "${s}"`);
  return Strategy.Default;
}

/** Decodes and validates a pushed table. On any problem, returns the first one and no table. */
export function decodeTable(body: ArrayBuffer): TableDecodeResult {
  const out = new TableDecodeResult();
  const parser = new JsonParser();
  const root = parser.parse(body);
  if (root === null) {
    out.error = `invalid JSON at byte ${parser.errorAt.toString()}: ${parser.error}`;
    return out;
  }
  if (!root.isObject) {
    out.error = "table must be a JSON object";
    return out;
  }
  const r = new Reader();
  const t = new Table();
  const version = r.int(root, "version", "table", 0, 1000);
  if (r.error.length == 0 && version != TABLE_VERSION && version != TABLE_VERSION_ROUTES)
    r.fail(
      "table.version",
      `unsupported version ${version.toString()} (this filter speaks ${TABLE_VERSION.toString()} and ${TABLE_VERSION_ROUTES.toString()})`,
    );
  t.version = version;
  t.generation = r.num(root, "generation", "table", 1, MAX_SAFE_NUMBER);
  t.builtAtMs = r.num(root, "builtAtMs", "table", 0, MAX_SAFE_NUMBER);
  t.stalenessMs = r.num(root, "stalenessMs", "table", 0, 86400000);
  t.topology = r.str(root, "topology", "table", "", false);
  const pools = r.field(root, "pools", JsonKind.Array, "table");
  const models = r.field(root, "models", JsonKind.Array, "table");
  if (r.error.length > 0) {
    out.error = r.error;
    return out;
  }

  // A pod selected by two pools appears in both with the same slot (its in-flight counter is
  // the pod's); one slot for two different addresses is an error.
  const slotAddress = new Map<i32, string>();
  for (let i = 0; i < pools!.length; i++) {
    const pv = pools!.at(i);
    const path = `table.pools[${i.toString()}]`;
    if (!pv.isObject) {
      r.fail(path, "must be an object");
      break;
    }
    const p = new Pool();
    p.id = r.str(pv, "id", path);
    p.idUtf8 = String.UTF8.encode(p.id);
    if (r.error.length == 0 && p.id.length == 0) r.fail(`${path}.id`, "must not be empty");
    if (r.error.length == 0 && t.findPool(p.id) !== null) r.fail(`${path}.id`, `duplicate pool "${p.id}"`);
    p.strategy = strategyOf(r.str(pv, "strategy", path, "DEFAULT"), r, `${path}.strategy`);
    p.runtime = r.str(pv, "runtime", path, "vllm");
    if (r.error.length == 0 && p.runtime != "vllm" && p.runtime != "sglang" && p.runtime != "trt-llm")
      r.fail(`${path}.runtime`, "must be vllm, sglang or trt-llm");
    const prefix = r.field(pv, "prefix", JsonKind.Object, path);
    if (prefix !== null) {
      p.blockSize = r.int(prefix, "blockSize", `${path}.prefix`, 1, 1048576, DEFAULT_BLOCK_SIZE);
      p.maxBlocks = r.int(prefix, "maxBlocks", `${path}.prefix`, 1, 65536, DEFAULT_MAX_BLOCKS);
      p.lruCapacity = r.int(prefix, "lruCapacity", `${path}.prefix`, 1, 10000000, DEFAULT_LRU_CAPACITY);
      const mode = r.str(prefix, "mode", `${path}.prefix`, DEFAULT_PREFIX_MODE, false);
      if (mode == "feedback") p.prefixFeedback = true;
      else if (mode == "estimate") p.prefixFeedback = false;
      else r.fail(`${path}.prefix.mode`, `must be estimate or feedback, got "${mode}"`);
    }
    const queue = r.field(pv, "queue", JsonKind.Object, path);
    if (queue !== null) {
      p.queueEnabled = r.bool(queue, "enabled", `${path}.queue`);
      p.queueCapacityBytes = r.num(
        queue,
        "capacityBytes",
        `${path}.queue`,
        0,
        9007199254740991,
        DEFAULT_QUEUE_CAPACITY_BYTES,
      );
      p.queueTtlMs = r.num(queue, "ttlMs", `${path}.queue`, 0, 9007199254740991, DEFAULT_QUEUE_TTL_MS);
    }
    p.firstByteTimeoutMs = r.num(pv, "firstByteTimeoutMs", path, 0, 86400000, DEFAULT_FIRST_BYTE_TIMEOUT_MS, false);
    const pd = pv.get("pd");
    if (pd !== null && !pd.isNull) {
      if (!pd.isObject) r.fail(`${path}.pd`, "must be an object");
      else {
        p.hasPd = true;
        p.bootstrapPort = r.int(pd, "bootstrapPort", `${path}.pd`, 1, 65535);
        p.prefillStrategy = strategyOf(
          r.str(pd, "prefillPolicy", `${path}.pd`, "DEFAULT", false),
          r,
          `${path}.pd.prefillPolicy`,
        );
        p.decodeStrategy = strategyOf(
          r.str(pd, "decodePolicy", `${path}.pd`, "DEFAULT", false),
          r,
          `${path}.pd.decodePolicy`,
        );
      }
    }
    decodeAnyModel(r, pv, p, path, t.hasRoutes);
    const eps = r.field(pv, "endpoints", JsonKind.Array, path);
    if (r.error.length > 0) break;
    for (let j = 0; j < eps!.length; j++) {
      const ev = eps!.at(j);
      const ep = `${path}.endpoints[${j.toString()}]`;
      if (!ev.isObject) {
        r.fail(ep, "must be an object");
        break;
      }
      const e = new Endpoint();
      e.slot = r.int(ev, "slot", ep, 0, <f64>(MAX_SLOTS - 1));
      e.name = r.str(ev, "name", ep);
      e.address = r.str(ev, "address", ep);
      if (r.error.length == 0) {
        if (slotAddress.has(e.slot) && slotAddress.get(e.slot) != e.address)
          r.fail(`${ep}.slot`, `slot ${e.slot.toString()} used by ${slotAddress.get(e.slot)} and ${e.address}`);
        slotAddress.set(e.slot, e.address);
      }
      if (r.error.length == 0 && !validAddress(e.address))
        r.fail(`${ep}.address`, `must be IP:port, got "${e.address}"`);
      e.tag = <u16>(xxh64String(e.address, 0x7461670000000000) >> 48);
      e.addressHash = xxh64String(e.address, 0);
      e.addressUtf8 = String.UTF8.encode(e.address);
      e.ready = r.bool(ev, "ready", ep);
      const role = r.str(ev, "role", ep, "both", false);
      if (role == "both") e.role = Role.Both;
      else if (role == "prefill") e.role = Role.Prefill;
      else if (role == "decode") e.role = Role.Decode;
      else r.fail(`${ep}.role`, "must be both, prefill or decode");
      e.waiting = r.num(ev, "waiting", ep, 0, MAX_LOAD_COUNT);
      e.running = r.num(ev, "running", ep, 0, MAX_LOAD_COUNT);
      e.kvUsage = r.num(ev, "kvUsage", ep, 0, 1);
      e.scrapeAgeMs = r.num(ev, "scrapeAgeMs", ep, -1, MAX_SAFE_NUMBER, -1, false);
      e.bootstrapPort = r.int(ev, "bootstrapPort", ep, 1, 65535, 0, false);
      const loras = ev.get("loras");
      if (loras !== null) {
        if (!loras.isArray) r.fail(`${ep}.loras`, "must be an array of strings");
        else
          for (let k = 0; k < loras.length; k++) {
            if (!loras.at(k).isString) {
              r.fail(`${ep}.loras[${k.toString()}]`, "must be a string");
              break;
            }
            e.loras.push(loras.at(k).s);
          }
      }
      if (r.error.length > 0) break;
      p.endpoints.push(e);
    }
    if (r.error.length > 0) break;
    t.pools.push(p);
  }
  if (r.error.length == 0)
    for (let i = 0; i < models!.length; i++) {
      const mv = models!.at(i);
      const path = `table.models[${i.toString()}]`;
      if (!mv.isObject) {
        r.fail(path, "must be an object");
        break;
      }
      const m = new Model();
      m.name = r.str(mv, "name", path);
      const poolId = r.str(mv, "pool", path);
      if (r.error.length > 0) break;
      m.pool = t.findPool(poolId);
      if (m.pool === null) {
        r.fail(`${path}.pool`, `unknown pool "${poolId}"`);
        break;
      }
      // Version 1 routes by model name alone: one entry per name. Version 2: per (name, pool).
      if (t.hasRoutes ? t.findModelIn(m.name, m.pool!) !== null : t.findModel(m.name) !== null) {
        r.fail(`${path}.name`, `duplicate model "${m.name}"${t.hasRoutes ? ` for pool "${poolId}"` : ""}`);
        break;
      }
      decodePriority(r, mv, m, path);
      if (r.error.length > 0) break;
      const targets = mv.get("targets");
      if (targets !== null) m.totalWeight = decodeTargets(r, targets, m.targets, `${path}.targets`);
      if (r.error.length > 0) break;
      t.models.push(m);
    }
  if (r.error.length == 0) decodeObjectives(r, root, t);
  if (r.error.length == 0) decodeRoutes(r, root, t);
  if (r.error.length > 0) {
    out.error = r.error;
    return out;
  }
  out.table = t;
  return out;
}

/**
 * `priority` (int32) and `criticality`. A table without `priority` (a control plane that predates
 * it) gets it from the criticality: Critical 1, Standard 0, Sheddable -1. With both, they must
 * agree (the control plane derives criticality from priority for version-1 filters).
 */
function decodePriority(r: Reader, mv: JsonValue, m: Model, path: string): void {
  const hasCriticality = mv.get("criticality") !== null;
  const c = r.str(mv, "criticality", path, "Standard", false);
  if (c == "Critical") m.criticality = Criticality.Critical;
  else if (c == "Standard") m.criticality = Criticality.Standard;
  else if (c == "Sheddable") m.criticality = Criticality.Sheddable;
  else {
    r.fail(`${path}.criticality`, "must be Critical, Standard or Sheddable");
    return;
  }
  if (mv.get("priority") === null) {
    m.priority = priorityOfCriticality(m.criticality);
    return;
  }
  m.priority = r.int(mv, "priority", path, <f64>MIN_PRIORITY, <f64>MAX_PRIORITY);
  if (r.failed) return;
  const derived = criticalityOfPriority(m.priority);
  if (hasCriticality && derived != m.criticality)
    r.fail(`${path}.criticality`, `${c} disagrees with priority ${m.priority.toString()}`);
  m.criticality = derived;
}

/** A weighted target list (model targets, anyModel targets); returns the total weight. */
function decodeTargets(r: Reader, targets: JsonValue, out: TargetModel[], path: string): f64 {
  if (!targets.isArray) {
    r.fail(path, "must be an array");
    return 0;
  }
  let total: f64 = 0;
  for (let k = 0; k < targets.length; k++) {
    const tv = targets.at(k);
    const tp = `${path}[${k.toString()}]`;
    if (!tv.isObject) {
      r.fail(tp, "must be an object");
      return 0;
    }
    const name = r.str(tv, "name", tp);
    const w = r.num(tv, "weight", tp, 0, 1000000);
    if (r.failed) return 0;
    out.push(new TargetModel(name, w));
    total += w;
  }
  if (out.length > 0 && total <= 0) r.fail(path, "weights must not all be 0");
  return total;
}

/** `anyModel`: only in version-2 tables (a version-1 table routes declared models only). */
function decodeAnyModel(r: Reader, pv: JsonValue, p: Pool, path: string, routes: bool): void {
  const any = r.optional(pv, "anyModel", JsonKind.Object, path);
  if (any === null) return;
  if (!routes) {
    r.fail(`${path}.anyModel`, "only in version-2 tables (with routes)");
    return;
  }
  p.anyModel = true;
  const targets = r.field(any, "targets", JsonKind.Array, `${path}.anyModel`);
  if (targets !== null) p.anyTotalWeight = decodeTargets(r, targets, p.anyTargets, `${path}.anyModel.targets`);
}

/** "a.b.c.d:port" or "[v6]:port", port 1..65535. */
export function validAddress(a: string): bool {
  const colon = a.lastIndexOf(":");
  if (colon <= 0 || colon == a.length - 1) return false;
  const portStr = a.substring(colon + 1);
  let port = 0;
  for (let i = 0; i < portStr.length; i++) {
    const c = portStr.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
    port = port * 10 + (c - 0x30);
    if (port > 65535) return false;
  }
  if (port == 0) return false;
  const host = a.substring(0, colon);
  if (host.charCodeAt(0) == 0x5b) return host.charCodeAt(host.length - 1) == 0x5d && host.length > 2;
  const parts = host.split(".");
  if (parts.length != 4) return false;
  for (let i = 0; i < 4; i++) {
    const s = parts[i];
    if (s.length == 0 || s.length > 3) return false;
    let v = 0;
    for (let k = 0; k < s.length; k++) {
      const c = s.charCodeAt(k);
      if (c < 0x30 || c > 0x39) return false;
      v = v * 10 + (c - 0x30);
    }
    if (v > 255) return false;
  }
  return true;
}
