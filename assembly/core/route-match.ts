// Which route entry of a version-2 table a request matches (controlplane/table/schema.ts,
// TableRoute): the first entry, in the table's precedence order, whose host, path, method and
// header matches all hold. Pure: the request's headers are read through a HeaderSource, and at
// most once per distinct name per request (the host layer pays one host call per header read, so
// a header no evaluated entry names is never read, and :authority only when an entry has a host).
import { asciiLower } from "../table/ascii-case";
import { Route, Table } from "../table/table";

/** Where a request's header values come from: Envoy's header map in the filter, a map in tests. */
export abstract class HeaderSource {
  /** The value of a request header (lowercase name, pseudo-headers included), or null. */
  abstract read(name: string): string | null;
}

/** One request as route matching (and the objective lookup) sees it; reused across requests. */
export class RouteRequest {
  method: string = "";
  /** :path up to the first "?" or "#". */
  path: string = "";
  private source: HeaderSource | null = null;
  private names: string[] = [];
  private values: Array<string | null> = [];
  private hostRead: bool = false;
  private hostValue: string = "";
  /** Header reads that reached the source (each distinct name once). */
  reads: i32 = 0;
  /** The entry matched (null: none) and the table it was matched in (null: not matched yet). A
   *  decoded table is a new object even for the same generation, so identity is what counts: the
   *  entry's pools are that object's. */
  route: Route | null = null;
  matchedIn: Table | null = null;

  reset(source: HeaderSource | null, method: string, rawPath: string): void {
    this.source = source;
    this.method = method;
    this.path = pathOf(rawPath);
    this.names.length = 0;
    this.values.length = 0;
    this.hostRead = false;
    this.hostValue = "";
    this.reads = 0;
    this.route = null;
    this.matchedIn = null;
  }

  /** A request header's value (lowercase name), read from the source at most once. */
  header(name: string): string | null {
    const ns = this.names;
    for (let i = 0; i < ns.length; i++) if (unchecked(ns[i]) == name) return unchecked(this.values[i]);
    let v: string | null = null;
    if (this.source !== null) v = this.source!.read(name);
    this.reads++;
    ns.push(name);
    this.values.push(v);
    return v;
  }

  /** :authority lowercased, without ":port" ("" when absent). */
  host(): string {
    if (!this.hostRead) {
      this.hostRead = true;
      const a = this.header(":authority");
      this.hostValue = a === null ? "" : hostOf(a);
    }
    return this.hostValue;
  }

  /** Remembers the entry matched against `table` (null: none matched). */
  matched(table: Table, route: Route | null): void {
    this.matchedIn = table;
    this.route = route;
  }
}

/** Index of the first entry the request matches, or -1. */
export function matchRoute(routes: Route[], req: RouteRequest): i32 {
  for (let i = 0; i < routes.length; i++) if (matches(unchecked(routes[i]), req)) return i;
  return -1;
}

function matches(e: Route, req: RouteRequest): bool {
  // Cheapest first: path and method are already in hand; host and headers may cost a host call.
  if (!pathMatches(e, req.path)) return false;
  if (e.method.length > 0 && e.method != req.method) return false;
  if (e.host.length > 0) {
    const h = req.host();
    if (e.hostWildcard) {
      // "*.example.com": one or more labels in front of ".example.com", never "example.com" itself.
      if (h.length <= e.host.length || !h.endsWith(e.host)) return false;
    } else if (h != e.host) return false;
  }
  for (let k = 0; k < e.headerNames.length; k++) {
    const v = req.header(unchecked(e.headerNames[k]));
    if (v === null || v != unchecked(e.headerValues[k])) return false;
  }
  return true;
}

/** Exact: equal. PathPrefix: "/" matches all; else equal, or followed by "/" (element-wise). */
function pathMatches(e: Route, path: string): bool {
  if (e.pathExact) return path == e.path;
  const p = e.path;
  if (p.length == 1) return true;
  if (!path.startsWith(p)) return false;
  return path.length == p.length || path.charCodeAt(p.length) == 0x2f;
}

/** :path without its query and fragment. */
export function pathOf(rawPath: string): string {
  let end = rawPath.length;
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath.charCodeAt(i);
    if (c == 0x3f || c == 0x23) {
      end = i;
      break;
    }
  }
  return end == rawPath.length ? rawPath : rawPath.substring(0, end);
}

/** A request's host from :authority: lowercase, the port removed ("[::1]:8080" -> "[::1]"). */
export function hostOf(authority: string): string {
  let end = authority.length;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close > 0) end = close + 1;
  } else {
    for (let i = 0; i < authority.length; i++) {
      if (authority.charCodeAt(i) != 0x3a) continue;
      end = i; // a hostname has no ":", so the first one starts the port
      break;
    }
  }
  return asciiLower(authority.substring(0, end));
}
