// The gateway's own answers (no pod involved): GET /health and GET /v1/models. Pure.
import { jsonQuote } from "../json/quote";
import { Pool, Route, Table } from "../table/table";

export class Answer {
  constructor(
    public status: i32,
    public body: string,
    /** For errors: the OpenAI error code; "" for a 200. */
    public code: string = "",
  ) {}
}

/** 200 when a table is loaded and some pool has a ready endpoint; else 503. */
export function healthAnswer(t: Table | null): Answer {
  if (t === null) return new Answer(503, "the gateway has no routing table yet", "no_table");
  let ready = 0;
  for (let i = 0; i < t.pools.length; i++)
    for (let j = 0; j < t.pools[i].endpoints.length; j++) if (t.pools[i].endpoints[j].ready) ready++;
  if (ready == 0) return new Answer(503, "no ready endpoint in any pool", "no_ready_endpoint");
  return new Answer(200, '{"status":"ok","readyEndpoints":' + ready.toString() + "}");
}

/**
 * The InferenceModels as OpenAI's model list: with a version-2 table those of the pools the
 * request's route entry sends to (`route`), each name once; with a version-1 table all of them.
 */
export function modelsAnswer(t: Table | null, route: Route | null = null): Answer {
  if (t === null) return new Answer(503, "the gateway has no routing table yet", "no_table");
  const parts = new Array<string>();
  const seen = new Set<string>();
  const created = (<i64>(t.builtAtMs / 1000)).toString();
  for (let i = 0; i < t.models.length; i++) {
    const m = t.models[i];
    if (t.hasRoutes && (route === null || !routesTo(route, m.pool))) continue;
    if (seen.has(m.name)) continue;
    seen.add(m.name);
    const name = jsonQuote(m.name);
    parts.push(
      '{"id":' + name + ',"object":"model","created":' + created + ',"owned_by":"infergate","root":' + name + "}",
    );
  }
  return new Answer(200, '{"object":"list","data":[' + parts.join(",") + "]}");
}

function routesTo(route: Route, pool: Pool | null): bool {
  for (let i = 0; i < route.backends.length; i++) if (route.backends[i].pool === pool) return true;
  return false;
}
