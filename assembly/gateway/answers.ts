// The gateway's own answers (no pod involved): GET /health and GET /v1/models. Pure.
import { jsonQuote } from "../json/quote";
import { Table } from "../table/table";

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

/** The InferenceModels as OpenAI's model list. */
export function modelsAnswer(t: Table | null): Answer {
  if (t === null) return new Answer(503, "the gateway has no routing table yet", "no_table");
  const parts = new Array<string>();
  const created = (<i64>(t.builtAtMs / 1000)).toString();
  for (let i = 0; i < t.models.length; i++) {
    const name = jsonQuote(t.models[i].name);
    parts.push(
      '{"id":' + name + ',"object":"model","created":' + created + ',"owned_by":"infergate","root":' + name + "}",
    );
  }
  return new Answer(200, '{"object":"list","data":[' + parts.join(",") + "]}");
}
