// What the public listener serves, by method and path (and, with a version-2 table, by the
// HTTPRoutes), before any body is read. Pure.
import { Clock } from "../clock";
import { matchRoute, RouteRequest } from "../core/route-match";
import { Endpoint as ApiEndpoint } from "../request/openai";
import { TableStore } from "../state/table-store";
import { Table } from "../table/table";

export enum RouteKind {
  /** An OpenAI inference request: read the body and route it. */
  Inference = 0,
  Health = 1,
  Models = 2,
  /** Answer `status` (405 with `allow`, or 404). */
  Refuse = 3,
}

export class HttpRoute {
  kind: RouteKind = RouteKind.Refuse;
  api: ApiEndpoint = ApiEndpoint.ChatCompletions;
  status: i32 = 404;
  message: string = "";
  code: string = "";
  /** For 405: the Allow header. */
  allow: string = "";
}

const route = new HttpRoute();

function refuse(status: i32, message: string, code: string, allow: string = ""): HttpRoute {
  route.kind = RouteKind.Refuse;
  route.status = status;
  route.message = message;
  route.code = code;
  route.allow = allow;
  return route;
}

function methodNotAllowed(method: string, path: string, allowed: string): HttpRoute {
  return refuse(
    405,
    "method " + method + " not allowed on " + path + ": use " + allowed,
    "method_not_allowed",
    allowed,
  );
}

/** Classifies a request by method and path (query string ignored). The result is reused. */
export function classify(method: string, rawPath: string): HttpRoute {
  const q = rawPath.indexOf("?");
  const p = q >= 0 ? rawPath.substring(0, q) : rawPath;
  if (p == "/v1/chat/completions" || p == "/v1/completions") {
    if (method != "POST") return methodNotAllowed(method, p, "POST");
    route.kind = RouteKind.Inference;
    route.api = p == "/v1/completions" ? ApiEndpoint.Completions : ApiEndpoint.ChatCompletions;
    return route;
  }
  if (p == "/health") {
    // vLLM's health path, which OpenAI-compatible tools (guidellm, ...) check before a run.
    if (method != "GET" && method != "HEAD") return methodNotAllowed(method, p, "GET");
    route.kind = RouteKind.Health;
    return route;
  }
  if (p == "/v1/models") {
    if (method != "GET") return methodNotAllowed(method, p, "GET");
    route.kind = RouteKind.Models;
    return route;
  }
  return refuse(
    404,
    "no route for " +
      method +
      " " +
      p +
      ": infergate serves POST /v1/chat/completions, POST /v1/completions, GET /v1/models and GET /health",
    "not_found",
  );
}

/**
 * What the public listener does with a request given the table the headers phase sees. The
 * gateway's own GET /health is outside the routes; with a version-2 table everything else must
 * match a route entry (404 route_not_found, OpenAI-shaped, otherwise: the Gateway API's answer when
 * no rule matches), and the entry is remembered in `req` for the body phase and GET /v1/models.
 * A version-1 table (or none yet) reads nothing beyond method and path.
 */
export function routeRequest(table: Table | null, req: RouteRequest): HttpRoute {
  const r = classify(req.method, req.path);
  if (req.path == "/health" || table === null || !table.hasRoutes) return r;
  const i = matchRoute(table.routes, req);
  req.matched(table, i >= 0 ? table.routes[i] : null);
  if (i >= 0) return r;
  return refuse(
    404,
    "no HTTPRoute rule matches " + req.method + " " + req.path + " (host " + req.host() + ")",
    "route_not_found",
  );
}

/**
 * The headers phase's answer, from the table this worker last saw (no host call): the body phase
 * matches again when its decision finds a newer table (the in-flight snapshot carries the newest
 * generation). A refusal is final here, so it is checked against the newest table first: a worker
 * one push behind must not refuse a route added a moment ago. GET /v1/models lists the newest
 * table's models (then tables.last()).
 */
export function routeInHeadersPhase(tables: TableStore, req: RouteRequest, clock: Clock): HttpRoute {
  let table = tables.last();
  if (table === null || req.path == "/v1/models") table = tables.currentAt(clock.nowNanos());
  const r = routeRequest(table, req);
  if (r.kind != RouteKind.Refuse || table === null) return r;
  const newest = tables.current();
  return newest === table ? r : routeRequest(newest, req);
}
