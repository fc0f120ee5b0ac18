// Decodes the Gateway API parts of a table (controlplane/table/schema.ts): `objectives`
// (InferenceObjectives, both versions) and `routes` (version 2 only: HTTPRoute matches flattened
// in precedence order, with their backends). Same rules as decode-table.ts: every field checked,
// the first problem reported with its path.
import { JsonKind, JsonValue } from "../json/value";
import { hasAsciiLower, hasAsciiUpper } from "./ascii-case";
import { elementPath, Reader } from "./field-reader";
import { MAX_PRIORITY, MIN_PRIORITY, Pool, Route, RouteBackend, Table } from "./table";

/** `objectives`: absent = none; each (name, pool) once, its pool one of the table's. */
export function decodeObjectives(r: Reader, root: JsonValue, t: Table): void {
  const list = r.optional(root, "objectives", JsonKind.Array, "table");
  if (list === null) return;
  for (let i = 0; i < list.length; i++) {
    const ov = list.at(i);
    const path = elementPath("table", "objectives", i);
    if (!ov.isObject) {
      r.fail(path, "must be an object");
      return;
    }
    const name = r.str(ov, "name", path);
    const poolId = r.str(ov, "pool", path);
    const priority = r.int(ov, "priority", path, <f64>MIN_PRIORITY, <f64>MAX_PRIORITY);
    if (r.failed) return;
    const pool = t.findPool(poolId);
    if (name.length == 0) r.fail(path + ".name", "must not be empty");
    else if (pool === null) r.failGot(path + ".pool", "unknown pool", poolId);
    else if (pool.findObjective(name) >= 0)
      r.fail(path + ".name", 'duplicate objective "' + name + '" for pool ' + poolId);
    else {
      pool.objectiveNames.push(name);
      pool.objectivePriorities.push(priority);
    }
    if (r.failed) return;
  }
}

/** `routes`: present exactly in version 2 (a version-1 filter would route around them). */
export function decodeRoutes(r: Reader, root: JsonValue, t: Table): void {
  const present = root.get("routes") !== null;
  if (!t.hasRoutes) {
    if (present) r.fail("table.routes", "only in version-2 tables (this one says version 1)");
    return;
  }
  const list = r.field(root, "routes", JsonKind.Array, "table");
  if (list === null) return;
  for (let i = 0; i < list.length; i++) {
    const rv = list.at(i);
    const path = elementPath("table", "routes", i);
    if (!rv.isObject) {
      r.fail(path, "must be an object");
      return;
    }
    const route = decodeRoute(r, rv, t, path);
    if (r.failed) return;
    t.routes.push(route);
  }
}

function decodeRoute(r: Reader, rv: JsonValue, t: Table, path: string): Route {
  const e = new Route();
  const name = r.str(rv, "route", path);
  const rule = r.int(rv, "rule", path, 0, 1000000);
  const match = r.int(rv, "match", path, 0, 1000000);
  if (r.failed) return e;
  if (name.length == 0) r.fail(path + ".route", "must not be empty");
  e.label = name + "#" + rule.toString() + "." + match.toString();

  const host = r.optional(rv, "host", JsonKind.String, path);
  if (host !== null) decodeHost(r, host.s, e, path + ".host");

  const pv = r.field(rv, "path", JsonKind.Object, path);
  if (pv === null) return e;
  const pp = path + ".path";
  const type = r.str(pv, "type", pp);
  e.path = r.str(pv, "value", pp);
  if (r.failed) return e;
  if (type == "Exact") e.pathExact = true;
  else if (type != "PathPrefix") r.failGot(pp + ".type", "must be PathPrefix or Exact", type);
  if (!e.path.startsWith("/")) r.failGot(pp + ".value", 'must start with "/"', e.path);
  else if (!e.pathExact && e.path.length > 1 && e.path.endsWith("/"))
    r.failGot(pp + ".value", 'a PathPrefix ends without "/" (the control plane strips it)', e.path);

  const method = r.optional(rv, "method", JsonKind.String, path);
  if (method !== null) {
    e.method = method.s;
    if (e.method.length == 0 || hasAsciiLower(e.method))
      r.failGot(path + ".method", "must be an uppercase method name", e.method);
  }

  const headers = r.field(rv, "headers", JsonKind.Array, path);
  if (headers === null) return e;
  for (let k = 0; k < headers.length; k++) {
    const hv = headers.at(k);
    const hp = elementPath(path, "headers", k);
    if (!hv.isObject) {
      r.fail(hp, "must be an object");
      return e;
    }
    const hname = r.str(hv, "name", hp);
    const value = r.str(hv, "value", hp);
    if (r.failed) return e;
    if (hname.length == 0 || hasAsciiUpper(hname)) {
      r.failGot(hp + ".name", "must be a lowercase header name", hname);
      return e;
    }
    if (e.headerNames.includes(hname)) {
      r.failGot(hp + ".name", "duplicate header", hname);
      return e;
    }
    e.headerNames.push(hname);
    e.headerValues.push(value);
  }

  const backends = r.field(rv, "backends", JsonKind.Array, path);
  if (backends === null) return e;
  for (let k = 0; k < backends.length; k++) {
    const bv = backends.at(k);
    const bp = elementPath(path, "backends", k);
    if (!bv.isObject) {
      r.fail(bp, "must be an object");
      return e;
    }
    const weight = r.int(bv, "weight", bp, 0, 1000000);
    const pv2 = bv.get("pool");
    let pool: Pool | null = null;
    if (pv2 === null) r.fail(bp + ".pool", "required (a pool id, or null when unresolved)");
    else if (!pv2.isNull) {
      if (!pv2.isString) r.fail(bp + ".pool", "must be a string or null");
      else if ((pool = t.findPool(pv2.s)) === null) r.failGot(bp + ".pool", "unknown pool", pv2.s);
    }
    const err = pool === null ? r.str(bv, "error", bp, "", false) : "";
    if (r.failed) return e;
    e.backends.push(
      new RouteBackend(pool, weight, pool !== null || err.length > 0 ? err : "the backend could not be resolved"),
    );
  }
  return e;
}

/** "a.example.com" or "*.example.com": lowercase, no port, a wildcard only as the first label. */
function decodeHost(r: Reader, host: string, e: Route, path: string): void {
  if (host.length == 0 || hasAsciiUpper(host) || host.includes(":")) {
    r.failGot(path, "must be a lowercase hostname without port", host);
    return;
  }
  if (host.startsWith("*.")) {
    e.hostWildcard = true;
    e.host = host.substring(1); // ".example.com": the request host must end with it
  } else e.host = host;
  if (e.host.includes("*")) r.failGot(path, 'a wildcard is only allowed as "*." in front', host);
  else if (e.hostWildcard && e.host.length < 2) r.failGot(path, '"*." needs a suffix', host);
}
