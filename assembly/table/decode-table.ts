// Decodes and validates the control plane's JSON push into a Table. Every field is checked once
// here; the first problem is reported with its path (table.pools[0].endpoints[2].kvUsage: ...).
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
import { fmtNum, JsonKind, JsonValue, kindName } from "../json/value";
import { xxh64String } from "../prefix/xxhash64";
import {
  Criticality,
  Endpoint,
  MAX_SLOTS,
  Model,
  Pool,
  Role,
  Strategy,
  TABLE_VERSION,
  Table,
  TargetModel,
} from "./table";

export class TableDecodeResult {
  table: Table | null = null;
  error: string = "";
}

class Reader {
  error: string = "";
  fail(path: string, msg: string): void {
    if (this.error.length == 0) this.error = `${path}: ${msg}`;
  }

  field(obj: JsonValue, key: string, kind: JsonKind, path: string, required: bool = true): JsonValue | null {
    const v = obj.get(key);
    if (v === null) {
      if (required) this.fail(`${path}.${key}`, "required");
      return null;
    }
    if (v.kind != kind) {
      this.fail(`${path}.${key}`, `must be a ${kindName(kind)}, got ${kindName(v.kind)}`);
      return null;
    }
    return v;
  }
  str(obj: JsonValue, key: string, path: string, def: string = "", required: bool = true): string {
    const v = this.field(obj, key, JsonKind.String, path, required);
    return v === null ? def : v.s;
  }
  num(obj: JsonValue, key: string, path: string, min: f64, max: f64, def: f64 = 0, required: bool = true): f64 {
    const v = this.field(obj, key, JsonKind.Number, path, required);
    if (v === null) return def;
    if (!(v.n >= min && v.n <= max)) {
      this.fail(`${path}.${key}`, `must be in [${fmtNum(min)}, ${fmtNum(max)}], got ${fmtNum(v.n)}`);
      return def;
    }
    return v.n;
  }
  int(obj: JsonValue, key: string, path: string, min: f64, max: f64, def: f64 = 0, required: bool = true): i32 {
    const n = this.num(obj, key, path, min, max, def, required);
    if (n != Math.floor(n)) {
      this.fail(`${path}.${key}`, "must be an integer");
      return <i32>def;
    }
    return <i32>n;
  }
  bool(obj: JsonValue, key: string, path: string, def: bool = false, required: bool = true): bool {
    const v = this.field(obj, key, JsonKind.Bool, path, required);
    return v === null ? def : v.b;
  }
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
  if (r.error.length == 0 && version != TABLE_VERSION)
    r.fail(
      "table.version",
      `unsupported version ${version.toString()} (this filter speaks ${TABLE_VERSION.toString()})`,
    );
  t.generation = r.num(root, "generation", "table", 1, 9007199254740991);
  t.builtAtMs = r.num(root, "builtAtMs", "table", 0, 9007199254740991);
  t.stalenessMs = r.num(root, "stalenessMs", "table", 0, 86400000);
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
      e.ready = r.bool(ev, "ready", ep);
      const role = r.str(ev, "role", ep, "both", false);
      if (role == "both") e.role = Role.Both;
      else if (role == "prefill") e.role = Role.Prefill;
      else if (role == "decode") e.role = Role.Decode;
      else r.fail(`${ep}.role`, "must be both, prefill or decode");
      e.waiting = r.num(ev, "waiting", ep, 0, 1e9);
      e.running = r.num(ev, "running", ep, 0, 1e9);
      e.kvUsage = r.num(ev, "kvUsage", ep, 0, 1);
      e.scrapeAgeMs = r.num(ev, "scrapeAgeMs", ep, -1, 9007199254740991, -1, false);
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
      if (t.findModel(m.name) !== null) {
        r.fail(`${path}.name`, `duplicate model "${m.name}"`);
        break;
      }
      const c = r.str(mv, "criticality", path, "Standard", false);
      if (c == "Critical") m.criticality = Criticality.Critical;
      else if (c == "Standard") m.criticality = Criticality.Standard;
      else if (c == "Sheddable") m.criticality = Criticality.Sheddable;
      else {
        r.fail(`${path}.criticality`, "must be Critical, Standard or Sheddable");
        break;
      }
      const targets = mv.get("targets");
      if (targets !== null) {
        if (!targets.isArray) {
          r.fail(`${path}.targets`, "must be an array");
          break;
        }
        for (let k = 0; k < targets.length; k++) {
          const tv = targets.at(k);
          const tp = `${path}.targets[${k.toString()}]`;
          if (!tv.isObject) {
            r.fail(tp, "must be an object");
            break;
          }
          const name = r.str(tv, "name", tp);
          const w = r.num(tv, "weight", tp, 0, 1000000);
          if (r.error.length > 0) break;
          m.targets.push(new TargetModel(name, w));
          m.totalWeight += w;
        }
        if (r.error.length == 0 && m.targets.length > 0 && m.totalWeight <= 0)
          r.fail(`${path}.targets`, "weights must not all be 0");
      }
      if (r.error.length > 0) break;
      t.models.push(m);
    }
  if (r.error.length > 0) {
    out.error = r.error;
    return out;
  }
  out.table = t;
  return out;
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
