// Table versions 1 and 2 as the filter decodes them (controlplane/table/schema.ts): priorities,
// objectives, anyModel and routes, and every way each can be wrong (the error names the field).
import assert from "node:assert/strict";
import { test } from "node:test";
import { ep, POOL, poolJson, pure, route, tableJson, v2 } from "./pure.js";

const detail = (body: string) => {
  const out = pure.tableDetail(body) as string;
  if (out.startsWith("error ")) throw new Error(out);
  return JSON.parse(out);
};

test("priority: decoded when present, derived from criticality when not (Critical 1, Standard 0, Sheddable -1)", () => {
  const t = JSON.parse(tableJson([ep(0, "a")]));
  t.models = [
    { name: "crit", pool: POOL, criticality: "Critical", targets: [] },
    { name: "std", pool: POOL, criticality: "Standard", targets: [] },
    { name: "shed", pool: POOL, criticality: "Sheddable", targets: [] },
    { name: "none", pool: POOL, targets: [] },
    { name: "gold", pool: POOL, criticality: "Critical", priority: 10, targets: [] },
    { name: "scav", pool: POOL, priority: -5, targets: [] },
    { name: "max", pool: POOL, priority: 2147483647, targets: [] },
    { name: "min", pool: POOL, priority: -2147483648, targets: [] },
  ];
  const d = detail(JSON.stringify(t));
  assert.equal(d.version, 1);
  assert.deepEqual(
    d.models.map((m: { name: string; priority: number; criticality: number }) => [m.name, m.priority, m.criticality]),
    [
      ["crit", 1, 0],
      ["std", 0, 1],
      ["shed", -1, 2],
      ["none", 0, 1],
      ["gold", 10, 0],
      ["scav", -5, 2],
      ["max", 2147483647, 0],
      ["min", -2147483648, 2],
    ],
  );
});

test("objectives: absent is none; per pool by name; decoded in both versions", () => {
  assert.deepEqual(detail(tableJson([ep(0, "a")])).pools[0].objectives, {});
  const v1 = JSON.parse(tableJson([ep(0, "a")]));
  v1.objectives = [
    { name: "gold", pool: POOL, priority: 10 },
    { name: "scavenger", pool: POOL, priority: -5 },
  ];
  assert.deepEqual(detail(JSON.stringify(v1)).pools[0].objectives, { gold: 10, scavenger: -5 });
  const d = detail(
    v2({
      objectives: [
        { name: "gold", pool: "ns/a", priority: 10 },
        { name: "gold", pool: "ns/b", priority: 2 },
      ],
    }),
  );
  assert.deepEqual(
    d.pools.map((p: { objectives: unknown }) => p.objectives),
    [{ gold: 10 }, { gold: 2 }],
  );
});

test("version 2: models per (name, pool), anyModel, routes with host, path, method, headers and backends", () => {
  const pools = [
    { ...poolJson([ep(0, "a0")], { id: "ns/a" }), anyModel: { targets: [] } },
    { ...poolJson([ep(1, "b0")], { id: "ns/b" }), anyModel: { targets: [{ name: "x", weight: 3 }] } },
  ];
  const d = detail(
    v2({
      pools,
      routes: [
        route({
          route: "ns/exact",
          rule: 2,
          match: 1,
          host: "*.example.com",
          path: { type: "Exact", value: "/v1/chat/completions" },
          method: "POST",
          headers: [{ name: "x-tier", value: "Gold" }],
          backends: [
            { pool: "ns/a", weight: 2 },
            { pool: null, weight: 1, error: "InferencePool ns/gone not found" },
            { pool: null, weight: 0 },
          ],
        }),
        route({ host: null, method: null }),
      ],
    }),
  );
  assert.equal(d.version, 2);
  assert.deepEqual(
    d.models.map((m: { name: string; pool: string }) => `${m.name}@${m.pool}`),
    ["m@ns/a", "m@ns/b"],
  );
  assert.deepEqual(
    d.pools.map((p: { anyModel: boolean; anyTargets: unknown }) => [p.anyModel, p.anyTargets]),
    [
      [true, {}],
      [true, { x: 3 }],
    ],
  );
  assert.deepEqual(d.routes[0], {
    label: "ns/exact#2.1",
    host: ".example.com",
    wildcard: true,
    exact: true,
    path: "/v1/chat/completions",
    method: "POST",
    headers: { "x-tier": "Gold" },
    backends: [
      { pool: "ns/a", weight: 2, error: "" },
      { pool: null, weight: 1, error: "InferencePool ns/gone not found" },
      { pool: null, weight: 0, error: "the backend could not be resolved" },
    ],
  });
  assert.deepEqual(d.routes[1], {
    label: "ns/r#0.0",
    host: "",
    wildcard: false,
    exact: false,
    path: "/v1",
    method: "",
    headers: {},
    backends: [{ pool: "ns/a", weight: 1, error: "" }],
  });
  // No route at all is a valid version-2 table (every request then gets 404).
  assert.deepEqual(detail(v2({ routes: [] })).routes, []);
});

test("every new field is validated, the error naming it", () => {
  const v1 = (models: unknown[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({ ...JSON.parse(tableJson([ep(0, "a")])), models, ...extra });
  const m = (o: Record<string, unknown>) => ({ name: "m", pool: POOL, targets: [], ...o });
  const withPool = (o: Record<string, unknown>) =>
    v2({ pools: [{ ...poolJson([ep(0, "a0")], { id: "ns/a" }), ...o }], models: [], routes: [] });
  const bad: [string, RegExp][] = [
    [v1([m({ priority: 1.5 })]), /models\[0\]\.priority: must be an integer/],
    [v1([m({ priority: 2147483648 })]), /models\[0\]\.priority: must be in \[-2147483648, 2147483647\]/],
    [v1([m({ priority: "high" })]), /models\[0\]\.priority: must be a number, got string/],
    [v1([m({ priority: 5, criticality: "Standard" })]), /models\[0\]\.criticality: Standard disagrees with priority 5/],
    [
      v1([m({ priority: -1, criticality: "Critical" })]),
      /models\[0\]\.criticality: Critical disagrees with priority -1/,
    ],
    [
      JSON.stringify({
        ...JSON.parse(tableJson([ep(0, "a")])),
        pools: [poolJson([ep(0, "a")]), poolJson([ep(1, "b")], { id: "ns/b" })],
        models: [m({}), m({ pool: "ns/b" })],
      }),
      /models\[1\]\.name: duplicate model "m"$/,
    ],
    [
      v2({ models: [m({ pool: "ns/a" }), m({ pool: "ns/a" })] }),
      /models\[1\]\.name: duplicate model "m" for pool "ns\/a"/,
    ],
    [v1([m({})], { objectives: {} }), /table\.objectives: must be an array, got object/],
    [
      v1([m({})], { objectives: [{ name: "g", pool: "nope", priority: 1 }] }),
      /objectives\[0\]\.pool: unknown pool, got "nope"/,
    ],
    [v1([m({})], { objectives: [{ name: "", pool: POOL, priority: 1 }] }), /objectives\[0\]\.name: must not be empty/],
    [v1([m({})], { objectives: [{ name: "g", pool: POOL }] }), /objectives\[0\]\.priority: required/],
    [
      v1([m({})], { objectives: [{ name: "g", pool: POOL, priority: 2 ** 31 }] }),
      /objectives\[0\]\.priority: must be in/,
    ],
    [
      v1([m({})], {
        objectives: [
          { name: "g", pool: POOL, priority: 1 },
          { name: "g", pool: POOL, priority: 2 },
        ],
      }),
      /objectives\[1\]\.name: duplicate objective "g" for pool default\/pool/,
    ],
    [
      JSON.stringify({
        ...JSON.parse(tableJson([ep(0, "a")])),
        pools: [{ ...poolJson([ep(0, "a")]), anyModel: { targets: [] } }],
      }),
      /pools\[0\]\.anyModel: only in version-2 tables/,
    ],
    [withPool({ anyModel: {} }), /pools\[0\]\.anyModel\.targets: required/],
    [withPool({ anyModel: { targets: [{ name: "x", weight: 0 }] } }), /anyModel\.targets: weights must not all be 0/],
    [withPool({ anyModel: { targets: [{ name: "x" }] } }), /anyModel\.targets\[0\]\.weight: required/],
    [v1([m({})], { routes: [] }), /table\.routes: only in version-2 tables/],
    [JSON.stringify({ ...JSON.parse(v2()), routes: undefined }), /table\.routes: required/],
    [v2({ routes: [7] }), /routes\[0\]: must be an object/],
    [v2({ routes: [route({ route: "" })] }), /routes\[0\]\.route: must not be empty/],
    [v2({ routes: [route({ rule: -1 })] }), /routes\[0\]\.rule: must be in/],
    [v2({ routes: [route({ host: "A.example.com" })] }), /routes\[0\]\.host: must be a lowercase hostname/],
    [
      v2({ routes: [route({ host: "a.example.com:8080" })] }),
      /routes\[0\]\.host: must be a lowercase hostname without port/,
    ],
    [v2({ routes: [route({ host: "a.*.com" })] }), /routes\[0\]\.host: a wildcard is only allowed as "\*\." in front/],
    [v2({ routes: [route({ host: "*." })] }), /routes\[0\]\.host: "\*\." needs a suffix/],
    [
      v2({ routes: [route({ path: { type: "RegularExpression", value: "/v1" } })] }),
      /path\.type: must be PathPrefix or Exact/,
    ],
    [v2({ routes: [route({ path: { type: "Exact", value: "v1" } })] }), /path\.value: must start with "\/"/],
    [
      v2({ routes: [route({ path: { type: "PathPrefix", value: "/v1/" } })] }),
      /path\.value: a PathPrefix ends without "\/"/,
    ],
    [v2({ routes: [route({ path: undefined })] }), /routes\[0\]\.path: required/],
    [v2({ routes: [route({ method: "post" })] }), /routes\[0\]\.method: must be an uppercase method name/],
    [v2({ routes: [route({ headers: undefined })] }), /routes\[0\]\.headers: required/],
    [
      v2({ routes: [route({ headers: [{ name: "X-Tier", value: "a" }] })] }),
      /headers\[0\]\.name: must be a lowercase header name/,
    ],
    [
      v2({
        routes: [
          route({
            headers: [
              { name: "x-a", value: "1" },
              { name: "x-a", value: "2" },
            ],
          }),
        ],
      }),
      /headers\[1\]\.name: duplicate header, got "x-a"/,
    ],
    [v2({ routes: [route({ headers: [{ name: "x-a" }] })] }), /headers\[0\]\.value: required/],
    [v2({ routes: [route({ backends: undefined })] }), /routes\[0\]\.backends: required/],
    [
      v2({ routes: [route({ backends: [{ pool: "ns/zz", weight: 1 }] })] }),
      /backends\[0\]\.pool: unknown pool, got "ns\/zz"/,
    ],
    [v2({ routes: [route({ backends: [{ weight: 1 }] })] }), /backends\[0\]\.pool: required/],
    [v2({ routes: [route({ backends: [{ pool: 3, weight: 1 }] })] }), /backends\[0\]\.pool: must be a string or null/],
    [v2({ routes: [route({ backends: [{ pool: "ns/a", weight: 1000001 }] })] }), /backends\[0\]\.weight: must be in/],
    [v2({ routes: [route({ backends: [{ pool: "ns/a" }] })] }), /backends\[0\]\.weight: required/],
  ];
  for (const [body, re] of bad) assert.match(pure.table(body), re, body);
});
