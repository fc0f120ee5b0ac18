// The Envoy Gateway manifests (charts/infergate/envoy-gateway/) through Envoy Gateway's own
// translator, and the xDS it produces in real Envoy. No Envoy Gateway controller runs here, so
// scripts/eg-translate/main.go (built by scripts/get-eg-translate.sh against the Go module
// github.com/envoyproxy/gateway at scripts/envoy-gateway-version, as get-helm.sh's CRDs) runs the controller's
// Gateway API -> IR -> xDS translation offline. What it checks:
//  - every object's status: all Accepted; the HTTPRoute's ResolvedRefs=False/InvalidKind (expected:
//    the InferencePool backendRef, README.md of envoy-gateway/); the EnvoyPatchPolicy Programmed, and
//    every JSON patch of it Programmed on its own (a failing patch is named with Envoy Gateway's reason);
//  - the xDS names and values the patches and the filter rely on (listener, route configuration,
//    filter name, vm_id, buffer limit from the ClientTrafficPolicy; the pods cluster and the route's
//    retries as in envoy/bootstrap.yaml);
//  - that xDS, made a static bootstrap (what is changed and why: toBootstrap below), in real Envoy
//    started with the EnvoyProxy's log level, fed by our control plane started with the sidecar's
//    own arguments (from 20-envoyproxy.yaml) and the token the patch policy got: the seed's request
//    reaches simulated pods, a ~100 KB body is routed, every request has its Request Handled line
//    (through the access log of patch 2e, found by the x-request-id the client sent),
//    an Envoy-made reply is OpenAI JSON, a pod failing fast costs no request (retries on the
//    fallbacks), the seed's SGLang P/D pool works through the prefill listener.
// Skipped when EG_TRANSLATE_BIN is unset, unless INFERGATE_REQUIRE_EG_TRANSLATE or CI is set (then
// a failure): `make test` builds it and requires it.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseCli } from "../../controlplane/cli.js";
import { type ControlPlane, startControlPlane } from "../../controlplane/control-plane.js";
import { createLogger } from "../../controlplane/log.js";
import { killOnExit, stopChild } from "../../scripts/lib/child-processes.js";
import { bufferLimitFor, findEnvoy, parseHandled } from "../../scripts/lib/envoy-process.js";
import { renderConfig, SEED_MODEL } from "../../scripts/lib/local-gateway.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { type Manifest, manifestDocs, runTool } from "../harness/manifests.js";
import { type Fleet, startFleet } from "../sim/fleet.js";

const EG_DIR = join(REPO_ROOT, "charts", "infergate", "envoy-gateway");
const WASM = join(REPO_ROOT, "build", "infergate.wasm");
const BIN = process.env.EG_TRANSLATE_BIN || "";
const REQUIRED = !!(process.env.INFERGATE_REQUIRE_EG_TRANSLATE || process.env.CI);
const skip =
  !BIN && !REQUIRED
    ? "EG_TRANSLATE_BIN is not set (EG_TRANSLATE_BIN=$(scripts/get-eg-translate.sh); `make test` sets it and INFERGATE_REQUIRE_EG_TRANSLATE=1)"
    : false;

// Names Envoy Gateway v1.9 gives (default xDS name scheme) and the patches use.
const LISTENER = "default/inference-gateway/http-llm";
const ROUTE_CONFIG = "default/inference-gateway/http-llm";
const VM_ID = "envoyextensionpolicy/default/infergate/wasm/0";
const WASM_FILTER = `envoy.filters.http.wasm/${VM_ID}`;
const ROUTE_PREFIX = "httproute/default/inference-route/rule/0/match/";
const CONTROL_LISTENER = "infergate_control";
/** The P/D prefill calls' internal listener and cluster (the filter's PREFILL_CLUSTER). */
const PREFILL = "infergate_prefill";
const POD_CLUSTER = "infergate_pods";
/** The header the filter writes on a P/D decode half (assembly/gateway/gateway-stream.ts PD_DECODE_HEADER). */
const PD_HEADER = "x-infergate-pd";
/** Where 20-envoyproxy.yaml mounts the module ConfigMap in the envoy container. */
const WASM_MOUNT_FILE = "/etc/infergate/wasm/infergate.wasm";
/** The emptyDir 20-envoyproxy.yaml shares between the sidecar (writes) and Envoy (file-based EDS). */
const ENDPOINTS_MOUNT = "/var/run/infergate-endpoints";
/** Envoy Gateway's Envoy admin (its bootstrap's default), which the sidecar reads. */
const EG_ADMIN = "http://127.0.0.1:19000";

type Condition = { type: string; status: string; reason: string; message: string };
type PatchStatus = { name: string; namespace: string; status: { ancestors: { conditions: Condition[] }[] } };
type Xds = { listeners: any[]; routes: any[]; clusters: any[]; secrets: any[] };
type Translation = {
  /** The Envoys' bootstrap as Envoy Gateway renders it for the EnvoyProxy (its default + Merge). */
  bootstrap: { bootstrap_extensions?: { name: string }[]; [k: string]: unknown };
  statuses: { kind: string; namespace?: string; name: string; status: any }[];
  gateways: Record<
    string,
    { xds: Xds; envoyPatchPolicyStatuses: PatchStatus[]; perPatchStatuses: PatchStatus[]; translateError?: string }
  >;
};

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Inference requests a simulated pod has seen. */
async function podRequests(url: string): Promise<number> {
  const j = (await (await fetch(`${url}/debug/requests`)).json()) as { requests: { path: string }[] };
  return j.requests.filter((r) => r.path.startsWith("/v1/")).length;
}

function cond(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return (conditions ?? []).find((c) => c.type === type);
}

/** "Accepted=True (reason: message)" for assertion messages. */
function show(c: Condition | undefined): string {
  return c ? `${c.type}=${c.status} (${c.reason}: ${c.message})` : "absent";
}

function hcm(listener: any): any {
  const chain = listener.default_filter_chain ?? listener.filter_chains[0];
  const f = chain.filters.find((x: any) => x.name === "envoy.filters.network.http_connection_manager");
  assert.ok(f, `listener ${listener.name} has an HTTP connection manager`);
  return f.typed_config;
}

function byName(list: any[], name: string, what: string): any {
  const found = list.filter((x) => x.name === name);
  assert.equal(found.length, 1, `one ${what} ${name}; there are: ${list.map((x) => x.name).join(", ")}`);
  return found[0];
}

/**
 * envoy/bootstrap.yaml (its {{NAME}}s as 0 or a path) in the form the xDS is printed in: parsed into Envoy's
 * Bootstrap proto and printed by eg-translate (-normalize) as the xDS is, so that the pieces the
 * patches copy from it compare field by field (defaults left out, durations spelled one way).
 */
async function ourBootstrap(dir: string, bufferLimit: number): Promise<any> {
  const file = join(dir, "our-bootstrap.yaml");
  const values: Record<string, string> = {
    ENDPOINTS_DIR: "/endpoints",
    WASM_PATH: "/infergate.wasm",
    LISTEN_ADDRESS: "127.0.0.1",
    BUFFER_LIMIT: String(bufferLimit),
  };
  const text = readFileSync(join(REPO_ROOT, "envoy", "bootstrap.yaml"), "utf8");
  writeFileSync(
    file,
    text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => values[k] ?? "0"),
  );
  const r = await runTool(BIN, ["-normalize", file]);
  assert.equal(r.code, 0, `eg-translate -normalize envoy/bootstrap.yaml: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Envoy Gateway's xDS for one gateway -> a static Envoy bootstrap that runs on this machine. Envoy
 * Gateway serves this xDS over ADS from its controller, with its own bootstrap; neither runs here.
 * Everything Envoy Gateway generated is kept as it is, except (each also in the returned list):
 *  1. the bootstrap is ours: node, an admin on 127.0.0.1 (port read back), static_resources =
 *     EG's listeners, clusters and secrets (EG's bootstrap, with its xds_cluster, is not used);
 *  2. RDS over ADS -> the route configuration of the same name, inline (no xDS server here);
 *  3. the public filter's code: EG's remote source (its Wasm HTTP server, through wasm_cluster) ->
 *     the local build/infergate.wasm, after checking that the sha256 EG pinned is this file's;
 *  4. the control listener's module path (the ConfigMap mount of 20-envoyproxy.yaml) -> build/,
 *     and the endpoints emptyDir (the pods cluster's file-based EDS) -> a temporary directory;
 *  5. wasm_cluster (EG's Wasm server, unused once 3 is done, kept so its TLS setup is loaded):
 *     the client certificate over SDS/ADS -> the static secret EG generated with that name (an SDS
 *     secret on ADS with no ADS configured crashes Envoy); its CA file (/certs/ca.crt, EG's mount)
 *     -> a test CA; its address (envoy-gateway.<ns>.svc.cluster.local, which only Kubernetes DNS
 *     resolves, and a resolver may take seconds to refuse) -> 127.0.0.1;
 *  6. every listener on 127.0.0.1 port 0 (EG: 0.0.0.0 with ports 8080, 9002, 19003), ports read back
 *     (an internal listener has no address);
 *  7. bootstrap_extensions: taken from Envoy Gateway's own bootstrap for the EnvoyProxy (its
 *     default merged with the EnvoyProxy's `bootstrap`), the one part of it that xDS cannot carry.
 */
function toBootstrap(
  xds: Xds,
  egBootstrap: Translation["bootstrap"],
  opts: { caFile: string; endpointsDir: string },
): { bootstrap: any; changes: string[] } {
  const x = JSON.parse(JSON.stringify(xds)) as Xds;
  const changes: string[] = [];
  const routes = new Map(x.routes.map((r: any) => [r.name, r]));
  const wasmSha = sha256(readFileSync(WASM));
  const walk = (o: any, fn: (o: any) => void): void => {
    if (Array.isArray(o)) for (const v of o) walk(v, fn);
    else if (o && typeof o === "object") {
      fn(o);
      for (const v of Object.values(o)) walk(v, fn);
    }
  };
  walk(x.listeners, (o) => {
    if (o.rds) {
      const name = o.rds.route_config_name;
      assert.ok(routes.has(name), `route configuration ${name} (RDS) is in the xDS`);
      delete o.rds;
      o.route_config = routes.get(name);
      changes.push(`RDS ${name} inline`);
    }
    if (o.vm_config?.code?.remote) {
      const remote = o.vm_config.code.remote;
      assert.equal(remote.sha256, wasmSha, "the sha256 Envoy Gateway pinned is build/infergate.wasm's");
      o.vm_config.code = { local: { filename: WASM } };
      changes.push(`wasm ${o.vm_config.vm_id}: remote ${remote.http_uri.uri} -> ${WASM}`);
    }
    if (typeof o.path === "string" && o.path.startsWith(ENDPOINTS_MOUNT)) {
      const to = opts.endpointsDir + o.path.slice(ENDPOINTS_MOUNT.length);
      changes.push(`${o.path} -> ${to}`);
      o.path = to;
    }
    if (o.filename === WASM_MOUNT_FILE) {
      o.filename = WASM;
      changes.push(`${WASM_MOUNT_FILE} -> ${WASM}`);
    }
  });
  for (const l of x.listeners) {
    if (l.internal_listener) continue;
    const a = l.address.socket_address;
    changes.push(`listener ${l.name}: ${a.address}:${a.port_value} -> 127.0.0.1:0`);
    l.address.socket_address = { address: "127.0.0.1", port_value: 0 };
  }
  walk(x.clusters, (o) => {
    for (const s of o.tls_certificate_sds_secret_configs ?? []) {
      if (s.sds_config) {
        assert.ok(
          x.secrets.some((sec: any) => sec.name === s.name),
          `secret ${s.name} is in the xDS`,
        );
        delete s.sds_config;
        changes.push(`SDS secret ${s.name} -> static`);
      }
    }
    if (typeof o.path === "string" && o.path.startsWith(ENDPOINTS_MOUNT)) {
      const to = opts.endpointsDir + o.path.slice(ENDPOINTS_MOUNT.length);
      changes.push(`${o.path} -> ${to}`);
      o.path = to;
    }
    if (o.trusted_ca?.filename) {
      changes.push(`CA ${o.trusted_ca.filename} -> test CA`);
      o.trusted_ca.filename = opts.caFile;
    }
  });
  const wasmCluster = x.clusters.find((c: any) => c.name === "wasm_cluster");
  if (wasmCluster) {
    for (const e of wasmCluster.load_assignment.endpoints)
      for (const lb of e.lb_endpoints) {
        const sa = lb.endpoint.address.socket_address;
        changes.push(`wasm_cluster endpoint ${sa.address} -> 127.0.0.1`);
        sa.address = "127.0.0.1";
      }
  }
  return {
    bootstrap: {
      node: { id: "eg-translate-test", cluster: "eg-translate-test" },
      admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
      static_resources: { listeners: x.listeners, clusters: x.clusters, secrets: x.secrets },
      ...(egBootstrap.bootstrap_extensions ? { bootstrap_extensions: egBootstrap.bootstrap_extensions } : {}),
    },
    changes: [
      ...changes,
      `bootstrap_extensions from Envoy Gateway's bootstrap: ${(egBootstrap.bootstrap_extensions ?? []).map((e) => e.name).join(", ") || "none"}`,
    ],
  };
}

describe("Envoy Gateway's translator on envoy-gateway/, and its xDS in real Envoy", { skip, timeout: 240_000 }, () => {
  let dir = "";
  let manifests: Manifest[] = [];
  let out: Translation;
  let gw: Translation["gateways"][string];
  const token = randomBytes(24).toString("base64url");
  let envoy: ChildProcess | null = null;
  let envoyLog = "";
  let fleet: Fleet | null = null;
  let pdFleet: Fleet | null = null;
  /** x-request-id of the P/D test's requests (the access log test checks their route). */
  const pdRequestIds: string[] = [];
  let cp: ControlPlane | null = null;
  // Set by the Envoy test, used by the ones after it.
  let publicUrl = "";
  let poolFile = "";
  let stdoutPath = "";
  let sent = 0;
  let routed = 0; // the 200s through the public listener
  const tail = () => envoyLog.slice(-4000);
  /** Every Request Handled line so far: the access log's on stdout (patch 2e), Envoy's log's on stderr. */
  const handledSoFar = () =>
    parseHandled(`${stdoutPath && existsSync(stdoutPath) ? readFileSync(stdoutPath, "utf8") : ""}\n${envoyLog}`);
  const chat = async (content: string) => {
    sent++;
    const id = randomUUID();
    const r = await fetch(`${publicUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": id },
      body: JSON.stringify({ model: SEED_MODEL, messages: [{ role: "user", content }], max_tokens: 8 }),
    });
    if (r.status === 200) routed++;
    return { id, status: r.status, pod: r.headers.get("x-sim-pod"), text: await r.text() };
  };
  /**
   * The Request Handled lines of these requests (by x-request-id), once all are out: the access log
   * is flushed every second (the EnvoyProxy's --file-flush-interval-msec), so lines of earlier
   * requests may come after later ones.
   */
  const handledFor = async (ids: string[]) => {
    const until = Date.now() + 5000;
    for (;;) {
      const byId = new Map(handledSoFar().map((h) => [h.requestId, h]));
      if (ids.every((id) => byId.has(id))) return ids.map((id) => byId.get(id)!);
      if (Date.now() > until)
        assert.fail(
          `Request Handled lines of ${ids.filter((id) => !byId.has(id)).length}/${ids.length} requests missing\n${tail()}`,
        );
      await sleep(50);
    }
  };

  before(async () => {
    assert.ok(BIN, "EG_TRANSLATE_BIN is required here (INFERGATE_REQUIRE_EG_TRANSLATE or CI is set)");
    assert.ok(existsSync(WASM), `${WASM} is missing: make wasm`);
    dir = mkdtempSync(join(tmpdir(), "infergate-egt-"));
    // Envoy Gateway's client certificate Secret (its certgen makes it): the translator refuses Wasm
    // extensions without it, and puts its tls.crt/tls.key into the xDS as the secret wasm_cluster
    // uses. A throwaway self-signed pair, made now; it is also the CA for the bootstrap.
    const crt = join(dir, "envoy.crt");
    const key = join(dir, "envoy.key");
    const ssl = await runTool("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=envoy"],
    ]);
    assert.equal(ssl.code, 0, `openssl (for a throwaway certificate): ${ssl.stderr}`);
    const b64 = (f: string) => readFileSync(f).toString("base64");
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "envoy", namespace: "envoy-gateway-system" },
      type: "kubernetes.io/tls",
      data: { "tls.crt": b64(crt), "tls.key": b64(key), "ca.crt": b64(crt) },
    };
    // The manifests as the README applies them: the token substituted into the patch policy (sed).
    const files = readdirSync(EG_DIR)
      .filter((f) => f.endsWith(".yaml"))
      .sort();
    const texts = files.map((f) => {
      const t = readFileSync(join(EG_DIR, f), "utf8");
      if (f !== "40-envoypatchpolicy.yaml") return t;
      assert.ok(t.includes("REPLACE_WITH_TOKEN"), "40-envoypatchpolicy.yaml has the token placeholder");
      return t.split("REPLACE_WITH_TOKEN").join(token); // sed s/REPLACE_WITH_TOKEN/$TOKEN/
    });
    manifests = texts.flatMap(manifestDocs);
    const input = join(dir, "in.yaml");
    writeFileSync(input, [...texts, JSON.stringify(secret)].join("\n---\n"));
    const r = await runTool(BIN, ["-f", input, "-wasm", WASM]);
    assert.equal(r.code, 0, `eg-translate failed:\n${r.stderr}`);
    out = JSON.parse(r.stdout) as Translation;
    const keys = Object.keys(out.gateways);
    assert.deepEqual(keys, ["default/inference-gateway"], `one gateway translated; log:\n${r.stderr}`);
    gw = out.gateways["default/inference-gateway"]!;
    assert.equal(gw.translateError, undefined, `xDS translation: ${gw.translateError}\n${r.stderr}`);
  });

  after(async () => {
    await cp?.stop();
    if (envoy) await stopChild(envoy);
    await fleet?.stop();
    await pdFleet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("every object is Accepted; the HTTPRoute's ResolvedRefs=False (InvalidKind) is the expected one", () => {
    const status = (kind: string, name: string) => {
      const s = out.statuses.filter((x) => x.kind === kind && x.name === name);
      assert.equal(s.length, 1, `a status for ${kind} ${name}`);
      return s[0]!.status;
    };
    for (const m of manifests) {
      const s = status(m.kind, m.metadata.name);
      const what = `${m.kind} ${m.metadata.name}`;
      switch (m.kind) {
        case "GatewayClass":
          assert.equal(
            cond(s.conditions, "Accepted")?.status,
            "True",
            `${what}: ${show(cond(s.conditions, "Accepted"))}`,
          );
          break;
        case "Gateway":
          // The Gateway's own Accepted/Programmed come from the controller once its Service has an
          // address; the translator's part is the listeners'.
          assert.equal(s.listeners.length, m.spec.listeners.length);
          for (const l of s.listeners)
            for (const t of ["Accepted", "Programmed", "ResolvedRefs"])
              assert.equal(
                cond(l.conditions, t)?.status,
                "True",
                `${what} listener ${l.name}: ${show(cond(l.conditions, t))}`,
              );
          assert.equal(s.listeners[0].attachedRoutes, 1);
          break;
        case "HTTPRoute": {
          assert.equal(s.parents.length, 1);
          const c = s.parents[0].conditions as Condition[];
          assert.equal(cond(c, "Accepted")?.status, "True", `${what}: ${show(cond(c, "Accepted"))}`);
          // Expected (envoy-gateway/README.md): the InferencePool backendRef is not resolved; the rule
          // becomes a 500 direct response, which patch 2 replaces.
          const rr = cond(c, "ResolvedRefs");
          assert.equal(rr?.status, "False", `${what}: ${show(rr)}`);
          assert.equal(rr?.reason, "InvalidKind", `${what}: ${show(rr)}`);
          break;
        }
        default: {
          // EnvoyProxy (ancestor: the GatewayClass) and the policies (ancestor: the Gateway).
          assert.ok(s.ancestors?.length >= 1, `${what} has ancestors: ${JSON.stringify(s)}`);
          for (const a of s.ancestors)
            assert.equal(
              cond(a.conditions, "Accepted")?.status,
              "True",
              `${what}: ${show(cond(a.conditions, "Accepted"))}`,
            );
        }
      }
    }
    assert.deepEqual(manifests.map((m) => m.kind).sort(), [
      "ClientTrafficPolicy",
      "EnvoyExtensionPolicy",
      "EnvoyPatchPolicy",
      "EnvoyProxy",
      "Gateway",
      "GatewayClass",
      "HTTPRoute",
    ]);
  });

  test("the EnvoyPatchPolicy is Programmed, and so is each of its JSON patches on its own", () => {
    const epp = manifests.find((m) => m.kind === "EnvoyPatchPolicy")!;
    const patches = epp.spec.jsonPatches as any[];
    const failures: string[] = [];
    assert.equal(gw.perPatchStatuses.length, patches.length, "one status per patch");
    gw.perPatchStatuses.forEach((p, i) => {
      assert.equal(p.name, `${epp.metadata.name}#${i}`);
      for (const a of p.status.ancestors) {
        const c = cond(a.conditions, "Programmed");
        if (c?.status !== "True")
          failures.push(
            `patch ${i + 1} (${patches[i].operation.op} ${patches[i].type.split(".").pop()} ${patches[i].name}): ${show(c)}`,
          );
      }
    });
    assert.deepEqual(failures, [], `patches not programmed:\n${failures.join("\n")}`);
    const whole = gw.envoyPatchPolicyStatuses.filter((p) => p.name === epp.metadata.name);
    assert.equal(whole.length, 1);
    for (const a of whole[0]!.status.ancestors) {
      assert.equal(cond(a.conditions, "Accepted")?.status, "True", show(cond(a.conditions, "Accepted")));
      assert.equal(cond(a.conditions, "Programmed")?.status, "True", show(cond(a.conditions, "Programmed")));
    }
  });

  test("the xDS has what the patches and the filter rely on", async () => {
    const x = gw.xds;
    const eep = manifests.find((m) => m.kind === "EnvoyExtensionPolicy")!;
    const ctp = manifests.find((m) => m.kind === "ClientTrafficPolicy");
    assert.ok(ctp, "a ClientTrafficPolicy raises the listener's buffer limit (35-clienttrafficpolicy.yaml)");
    // The public listener: the buffer limit the ClientTrafficPolicy sets, which is the rule of
    // envoy/bootstrap.yaml for the filter's maxBodyBytes.
    const pub = byName(x.listeners, LISTENER, "listener");
    assert.equal(pub.per_connection_buffer_limit_bytes, Number(ctp.spec.connection.bufferLimit));
    assert.equal(pub.per_connection_buffer_limit_bytes, bufferLimitFor(eep.spec.wasm[0].config.maxBodyBytes));
    assert.equal(pub.address.socket_address.port_value, 8080);
    const m = hcm(pub);
    assert.equal(m.rds.route_config_name, ROUTE_CONFIG);
    // The client's x-request-id is the Request Handled line's requestId (ClientTrafficPolicy
    // requestID: PreserveOrGenerate); Envoy Gateway's default replaces it.
    assert.equal(m.preserve_external_request_id, true, "the client's x-request-id kept");
    const filter = byName(m.http_filters, WASM_FILTER, "HTTP filter");
    const cfg = filter.typed_config.config;
    assert.equal(cfg.vm_config.vm_id, VM_ID);
    assert.equal(cfg.allow_on_headers_stop_iteration, true, "patch 1");
    assert.equal(cfg.root_id, eep.spec.wasm[0].rootID);
    assert.equal(cfg.fail_open ?? false, false);
    const pluginConfig = JSON.parse(cfg.configuration.value);
    assert.equal(pluginConfig.fallbacks, undefined, "the default fallbacks (2), one per retry of the route");
    assert.equal(pluginConfig.mode, "gateway");
    assert.equal(pluginConfig.handledLog, "access-log", "the Request Handled line through the access log");
    assert.deepEqual(
      m.http_filters.map((f: any) => f.name),
      [WASM_FILTER, "envoy.filters.http.header_to_metadata", "envoy.filters.http.router"],
      "x-infergate-pool becomes envoy.lb metadata after the filter wrote it, before the router",
    );
    // What envoy/bootstrap.yaml says for the public listener, which the patches copy.
    const ours0 = await ourBootstrap(dir, pub.per_connection_buffer_limit_bytes);
    const ourPublic = ours0.static_resources.listeners.find((l: any) => l.name === "infergate_public");
    const ourHcm = hcm(ourPublic);
    assert.deepEqual(
      byName(m.http_filters, "envoy.filters.http.header_to_metadata", "HTTP filter"),
      byName(ourHcm.http_filters, "envoy.filters.http.header_to_metadata", "HTTP filter"),
    );
    assert.deepEqual(m.local_reply_config, ourHcm.local_reply_config, "patch 2d: envoy/bootstrap.yaml's local replies");
    const handledLog = (m.access_log ?? []).filter((a: any) => a.name === "infergate_request_handled");
    assert.deepEqual(handledLog, ourHcm.access_log, "patch 2e: envoy/bootstrap.yaml's Request Handled access log");
    assert.ok(m.access_log.length > 1, "beside Envoy Gateway's own access log");
    // The route: patch 2's one replace, to the pods cluster, the filter turned on.
    const rc = byName(x.routes, ROUTE_CONFIG, "route configuration");
    const routes = rc.virtual_hosts.flatMap((v: any) => v.routes);
    const ours = routes.filter((r: any) => r.name.startsWith(ROUTE_PREFIX));
    assert.equal(ours.length, 1, `one route ${ROUTE_PREFIX}*: ${routes.map((r: any) => r.name).join(", ")}`);
    assert.equal(ours[0].route?.cluster, POD_CLUSTER, JSON.stringify(ours[0]));
    assert.equal(ours[0].direct_response, undefined);
    assert.ok(ours[0].typed_per_filter_config?.[WASM_FILTER], "the filter is enabled on the route");
    assert.equal(filter.disabled, true, "EG adds the filter disabled and enables it per route");
    const ourVhost = ourHcm.route_config.virtual_hosts[0];
    const ourRoute = (pd: boolean) =>
      ourVhost.routes.find((r: any) => (r.match.headers ?? []).some((h: any) => h.name === PD_HEADER) === pd);
    assert.deepEqual(
      ours[0].route.retry_policy,
      ourRoute(false).route.retry_policy,
      "the retries of envoy/bootstrap.yaml",
    );
    // Patch 2b': the P/D decode halves' route, first in the virtual host that holds ours, with
    // envoy/bootstrap.yaml's narrower retries, the header stripped, the filter on.
    const vhost = rc.virtual_hosts.find((v: any) => v.routes.some((r: any) => r.name.startsWith(ROUTE_PREFIX)));
    const pdRoute = vhost.routes[0];
    assert.equal(
      pdRoute.name,
      "infergate/pd-decode",
      `first route: ${vhost.routes.map((r: any) => r.name).join(", ")}`,
    );
    assert.deepEqual(pdRoute.match.headers, ourRoute(true).match.headers);
    assert.deepEqual(pdRoute.request_headers_to_remove, [PD_HEADER]);
    assert.deepEqual(
      pdRoute.route.retry_policy,
      ourRoute(true).route.retry_policy,
      "the P/D retries of envoy/bootstrap.yaml",
    );
    assert.equal(pdRoute.route.cluster, POD_CLUSTER);
    assert.equal(
      pdRoute.route.timeout,
      ours[0].route.timeout,
      "no route timeout, as ours (generations run for minutes)",
    );
    assert.deepEqual(pdRoute.match.path_separated_prefix, ours[0].match.path_separated_prefix);
    for (const v of rc.virtual_hosts)
      if (v !== vhost) assert.ok(!v.routes.some((r: any) => r.name === pdRoute.name), `not on ${v.name}`);
    assert.ok(pdRoute.typed_per_filter_config?.[WASM_FILTER], "the filter is enabled on the P/D route");
    for (const v of rc.virtual_hosts) assert.equal(v.include_request_attempt_count, true, `patch 2b on ${v.name}`);
    // Patch 3's cluster, patch 4's listener in the public filter's vm_id.
    // The pods cluster is envoy/bootstrap.yaml's, the endpoints file in the shared emptyDir.
    const pods = byName(x.clusters, POD_CLUSTER, "cluster");
    const ourPods = byName(ours0.static_resources.clusters, POD_CLUSTER, "cluster");
    const eds = pods.eds_cluster_config.eds_config.path_config_source;
    assert.deepEqual(eds, { path: `${ENDPOINTS_MOUNT}/endpoints.json`, watched_directory: { path: ENDPOINTS_MOUNT } });
    const same = (c: any) => {
      const x = JSON.parse(JSON.stringify(c));
      delete x.eds_cluster_config.eds_config.path_config_source;
      return x;
    };
    assert.deepEqual(same(pods), same(ourPods), "the pods cluster of envoy/bootstrap.yaml");
    const control = byName(x.listeners, CONTROL_LISTENER, "listener");
    assert.deepEqual(control.address.socket_address, { address: "127.0.0.1", port_value: 9002 });
    const cf = byName(hcm(control).http_filters, "envoy.filters.http.wasm", "HTTP filter").typed_config.config;
    assert.equal(cf.vm_config.vm_id, VM_ID, "the control listener joins the public filter's VM");
    assert.equal(cf.vm_config.code.local.filename, WASM_MOUNT_FILE);
    assert.equal(JSON.parse(cf.configuration.value).token, token, "the token the README's sed puts in");
    // Patch 5: the P/D prefill leg, an internal listener in the same VM, its cluster, and the
    // internal-listener extension in the bootstrap (the EnvoyProxy's Merge).
    const prefill = byName(x.listeners, PREFILL, "listener");
    assert.ok(prefill.internal_listener, "an internal listener");
    const pf = byName(hcm(prefill).http_filters, "envoy.filters.http.wasm", "HTTP filter").typed_config.config;
    assert.equal(pf.vm_config.vm_id, VM_ID, "the prefill leg joins the public filter's VM");
    assert.equal(JSON.parse(pf.configuration.value).mode, "prefill-leg");
    const pc = byName(x.clusters, PREFILL, "cluster");
    assert.equal(
      pc.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.envoy_internal_address.server_listener_name,
      PREFILL,
    );
    assert.ok(
      (out.bootstrap.bootstrap_extensions ?? []).some((e) => e.name === "envoy.bootstrap.internal_listener"),
      `Envoy Gateway's bootstrap has the internal-listener extension: ${JSON.stringify(out.bootstrap.bootstrap_extensions)}`,
    );
  });

  test("in real Envoy with our control plane: the seed's request reaches the pods, a 100 KB body too", async () => {
    // Envoy's arguments as Envoy Gateway derives them from the EnvoyProxy (internal/infrastructure/
    // common/proxy_args.go: --log-level from logging.level.default, other keys as
    // --component-log-level, --drain-strategy immediate); --concurrency 2 for --cpuset-threads.
    const ep = manifests.find((m) => m.kind === "EnvoyProxy")!;
    const levels = (ep.spec.logging?.level ?? {}) as Record<string, string>;
    const level = levels.default ?? "warn";
    assert.equal(level, "info", "20-envoyproxy.yaml asks for info (the Request Handled line of a stream cut short)");
    const components = Object.entries(levels)
      .filter(([k]) => k !== "default")
      .map(([k, v]) => `${k}:${v}`);
    const adminPath = join(dir, "admin-address");
    // The init container of 20-envoyproxy.yaml writes the empty endpoints file Envoy's EDS needs at
    // start: its own command, run here with the image's /app and the emptyDir mapped.
    const endpointsDir = join(dir, "endpoints");
    mkdirSync(endpointsDir);
    const init = (ep.spec.provider.kubernetes.envoyDeployment.initContainers as any[]).find(
      (c) => c.name === "infergate-endpoints",
    );
    assert.ok(init, "an init container writes the endpoints file");
    const initCmd = (init.command as string[]).map((a) =>
      a.split("/app/build/js/").join(`${REPO_ROOT}/build/js/`).split(ENDPOINTS_MOUNT).join(endpointsDir),
    );
    assert.equal(initCmd[0], "node");
    const ran = await runTool(process.execPath, initCmd.slice(1));
    assert.equal(ran.code, 0, `the init container's command: ${ran.stderr}`);
    assert.ok(existsSync(join(endpointsDir, "endpoints.json")), "the init container wrote endpoints.json");
    const { bootstrap, changes } = toBootstrap(gw.xds, out.bootstrap, { caFile: join(dir, "envoy.crt"), endpointsDir });
    const bootstrapPath = join(dir, "envoy.json");
    writeFileSync(bootstrapPath, JSON.stringify(bootstrap, null, 1));
    console.log(`# bootstrap from Envoy Gateway's xDS, changed: ${changes.join("; ")}`);
    const args = [
      ...["-c", bootstrapPath, "--log-level", level],
      ...(components.length ? ["--component-log-level", components.join(",")] : []),
      ...["--drain-strategy", "immediate", "--concurrency", "2", "--disable-hot-restart"],
      ...["--admin-address-path", adminPath],
      // What Envoy Gateway appends from the EnvoyProxy (the access log's flush interval).
      ...((ep.spec.extraArgs as string[] | undefined) ?? []),
    ];
    // Envoy's log is on stderr (a pipe, drained). Its stdout is a file: Envoy Gateway's access log
    // opens /dev/stdout, which fails (ENXIO) on the socket Node gives a child as a "pipe"; in a Pod
    // stdout is the runtime's pipe or file.
    stdoutPath = join(dir, "envoy.stdout");
    const stdoutFd = openSync(stdoutPath, "w");
    envoy = spawn(findEnvoy(), args, { stdio: ["ignore", stdoutFd, "pipe"] });
    closeSync(stdoutFd);
    killOnExit(envoy);
    envoy.stderr!.on("data", (b: Buffer) => (envoyLog += b.toString()));
    let admin = "";
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (envoy.exitCode !== null || envoy.signalCode !== null)
        assert.fail(`envoy exited ${envoy.exitCode ?? envoy.signalCode}:\n${tail()}`);
      try {
        admin = `http://${readFileSync(adminPath, "utf8").trim()}`;
        if ((await fetch(`${admin}/ready`)).status === 200) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) assert.fail(`envoy not ready:\n${tail()}`);
      await sleep(100);
    }
    const statuses = (await (await fetch(`${admin}/listeners?format=json`)).json()) as {
      listener_statuses: { name: string; local_address: { socket_address: { port_value: number } } }[];
    };
    const portOf = (name: string) => {
      const l = statuses.listener_statuses.find((s) => s.name === name);
      assert.ok(l, `listener ${name} in Envoy`);
      return l.local_address.socket_address.port_value;
    };
    publicUrl = `http://127.0.0.1:${portOf(LISTENER)}`;
    const controlUrl = `http://127.0.0.1:${portOf(CONTROL_LISTENER)}`;
    const wrong = await fetch(`${controlUrl}/infergate/v1/table`, {
      method: "POST",
      headers: { authorization: "Bearer not-the-token-0123456789", "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(wrong.status, 401, "the control listener refuses another token");

    // The sidecar's own arguments (20-envoyproxy.yaml), read by our CLI parser. Here: the file source
    // instead of Kubernetes (the seed's pool, as `make up` writes it, with the fleet as
    // StaticEndpoints), the control listener's port and the admin as Envoy bound them, the
    // endpoints emptyDir as the temporary directory.
    const sidecar = ep.spec.provider.kubernetes.envoyDeployment.patch.value.spec.template.spec.containers.find(
      (c: any) => c.name === "infergate-controlplane",
    );
    const sidecarArgs = [...(sidecar.args as string[])];
    const tf = sidecarArgs.indexOf("--token-file");
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, `${token}\n`);
    sidecarArgs[tf + 1] = tokenFile;
    const parsed = parseCli(sidecarArgs).options;
    assert.equal(parsed.source, "kubernetes");
    assert.deepEqual(parsed.envoyControl, ["http://127.0.0.1:9002"], "the sidecar pushes to patch 4's listener");
    assert.deepEqual(parsed.envoyAdmin, [EG_ADMIN], "Envoy Gateway's admin address");
    assert.equal(parsed.envoyEndpointsDir, ENDPOINTS_MOUNT, "the emptyDir Envoy's EDS reads");
    assert.equal(parsed.token, token);
    fleet = await startFleet({ model: SEED_MODEL, pods: 3 });
    poolFile = join(dir, "pool.yaml");
    writeFileSync(poolFile, renderConfig(fleet));
    cp = await startControlPlane({
      ...parsed,
      source: "file",
      file: poolFile,
      listen: "127.0.0.1:0",
      envoyControl: [controlUrl],
      envoyAdmin: [admin],
      envoyEndpointsDir: endpointsDir,
      logger: createLogger({ component: "controlplane", level: "warn" }),
    });

    // Until the table is in (the first push), the filter answers 503.
    let last = "";
    for (const until = Date.now() + 20_000; ; ) {
      const r = await chat("ping");
      if (r.status === 200) break;
      last = `${r.status} ${r.text}`;
      if (Date.now() > until) assert.fail(`no 200 through Envoy Gateway's xDS: ${last}\n${tail()}`);
      await sleep(100);
    }
    await sleep(300); // the warm-up's lines are out before the counted window starts
    const before = envoyLog.length;

    // The seed's request, several times; then one with a ~100 KB body (over the 32 KiB Envoy Gateway
    // gives a listener without the ClientTrafficPolicy).
    const answers = [];
    for (let i = 0; i < 12; i++) answers.push(await chat("Hello, this is a test"));
    const big = "The quick brown fox jumps over the lazy dog. ".repeat(2300);
    assert.ok(big.length > 100_000);
    answers.push(await chat(big));
    for (const [i, a] of answers.entries())
      assert.equal(a.status, 200, `request ${i + 1}${i === 12 ? " (100 KB)" : ""}: ${a.status} ${a.text}\n${tail()}`);
    // A reply Envoy makes itself (no route outside /v1) is OpenAI-shaped JSON, as in the chart (2d).
    sent++;
    const noRoute = await fetch(`${publicUrl}/nowhere`);
    assert.equal(noRoute.status, 404);
    assert.deepEqual(((await noRoute.json()) as { error: { code: string } }).error.code, "not_found");
    const pods = answers.map((a) => a.pod);
    assert.ok(
      pods.every((p) => fleet!.pods.some((fp) => fp.name === p)),
      `answered by the fleet: ${pods.join(", ")}`,
    );
    assert.ok(new Set(pods).size > 1, `spread over more than one pod: ${pods.join(", ")}`);

    // One Request Handled line per request, naming the pod that answered, through the access log.
    const handled = await handledFor(answers.map((a) => a.id));
    const window = envoyLog.slice(before);
    assert.equal(parseHandled(window).length, 0, "none through Envoy's log (a proxy_log call per request)");
    assert.deepEqual(
      handled.map((h) => h.pod),
      pods,
    );
    assert.ok(handled.every((h) => h.model === SEED_MODEL && h.requestId));
    // At info (EnvoyProxy logging), Envoy logs nothing else per request, at any level.
    const others = window.split("\n").filter((l) => /^\[\d{4}-\d\d-\d\d [\d:.]+\]\[\d+\]\[\w+\]/.test(l));
    assert.deepEqual(others, [], "Envoy's log lines during the requests");

    console.log(
      `# ${answers.length} requests: ${handled.length} Request Handled lines, ${others.length} other log lines`,
    );
  });
  test("failover: a pod that fails fast costs no request, Envoy retries on the listed fallbacks", async () => {
    assert.ok(envoy && cp && fleet, "the Envoy test ran");
    // pod-0 answers every inference request 503 at once (its metrics stay fine, so only the
    // failures tell): each request routed there is retried on the next listed pod (patch 2's
    // retries, override_host on the fallbacks of x-gateway-destination-endpoint), outlier detection
    // ejects it after three, and the control plane, reading Envoy's admin, takes it out of the table.
    const bad = fleet.pods[0]!;
    const seenBefore = await podRequests(bad.url);
    await fetch(`${bad.url}/admin/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ errorRate: 1, errorStatus: 503 }),
    });
    try {
      const answers = [];
      for (let i = 0; i < 20; i++) answers.push(await chat(`failover ${i}`));
      for (const a of answers) assert.equal(a.status, 200, `${a.status} ${a.text}\n${tail()}`);
      assert.ok(
        answers.every((a) => a.pod !== bad.name),
        `no answer from the failing pod: ${answers.map((a) => a.pod).join(", ")}`,
      );
      const tried = (await podRequests(bad.url)) - seenBefore;
      assert.ok(tried >= 1, "the failing pod was tried (and its requests retried elsewhere)");
      console.log(
        `# failover through Envoy Gateway's xDS: ${answers.length}/${answers.length} answered, ${tried} first tried on the failing pod`,
      );
    } finally {
      await fetch(`${bad.url}/admin/faults`, { method: "DELETE" });
    }
  });

  test("SGLang P/D: the seed's P/D pool through the prefill listener of patch 5", async () => {
    assert.ok(envoy && cp, "the Envoy test ran");
    // The seed's P/D manifests (InferencePool + InferenceTrafficPolicy), two prefill and two decode
    // SGLang-flavoured pods; the control plane reads the file again (hot update, as a kubectl apply).
    pdFleet = await startFleet({
      runtime: "sglang",
      args: ["--prefill-overhead-ms", "2", "--inter-token-latency-ms", "5"],
      pods: [
        { count: 2, role: "prefill", namePrefix: "prefill" },
        { count: 2, role: "decode", namePrefix: "decode" },
      ],
    });
    const manifests = readFileSync(join(REPO_ROOT, "test/kube/fixtures/seed-000-pd-sglang.yaml"), "utf8");
    writeFileSync(poolFile, renderConfig(pdFleet, { pd: { manifests } }));
    const role = (pod: string | null) => pdFleet!.pods.find((p) => p.name === pod)?.role;
    let last = "";
    for (const until = Date.now() + 20_000; ; ) {
      const r = await chat("ping");
      if (r.status === 200 && role(r.pod) === "decode") break;
      last = `${r.status} ${r.pod} ${r.text}`;
      if (Date.now() > until) assert.fail(`no P/D answer through Envoy Gateway's xDS: ${last}\n${tail()}`);
      await sleep(100);
    }
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await chat(`P/D question ${i}`));
    pdRequestIds.push(...answers.map((a) => a.id));
    for (const a of answers) {
      assert.equal(a.status, 200, `${a.status} ${a.text}\n${tail()}`);
      assert.equal(role(a.pod), "decode", `answered by a decode pod: ${a.pod}`);
    }
    const handled = await handledFor(answers.map((a) => a.id));
    for (const h of handled) {
      assert.equal(
        role(h.prefillPod as string),
        "prefill",
        `the prefill half went to a prefill pod: ${JSON.stringify(h)}`,
      );
      assert.equal(h.prefillStatus, 200);
    }
    console.log(
      `# P/D through Envoy Gateway's xDS: ${answers.length} requests, prefill pods ${[...new Set(handled.map((h) => h.prefillPod))].join(", ")}`,
    );
  });

  test("Envoy Gateway's default access log: one line per request", async () => {
    // Envoy Gateway's default access log (every HTTP listener, JSON to /dev/stdout, flushed with
    // ours) is also a line per request: counted after Envoy stops, for every request sent.
    assert.ok(envoy && cp, "the Envoy test ran");
    await cp.stop();
    cp = null;
    await stopChild(envoy);
    const access = readFileSync(stdoutPath, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(access.length, sent, `one access log line per request (${sent} sent)`);
    const routedLines = access.filter((a) => a.response_code !== 404);
    assert.equal(access.length - routedLines.length, 1, "the one request outside /v1");
    // A P/D request's decode half comes through patch 2b''s route (the filter's header made Envoy
    // match again), every other request through ours.
    const PD_ROUTE = "infergate/pd-decode";
    assert.ok(
      routedLines.every((a) => a.route_name === `${ROUTE_PREFIX}0/*` || a.route_name === PD_ROUTE),
      JSON.stringify([...new Set(routedLines.map((a) => a.route_name))]),
    );
    // By the filter's own lines: a request with a prefill pod is a decode half (the P/D route),
    // any other routed request took ours.
    const handledAll = handledSoFar();
    assert.ok(pdRequestIds.length > 0, "the P/D test ran");
    let pdLines = 0;
    for (const a of routedLines) {
      const h = handledAll.find((x) => x.requestId === a["x-request-id"]);
      if (!h) continue;
      const pd = h.prefillPod !== undefined;
      if (pd) pdLines++;
      assert.equal(a.route_name, pd ? PD_ROUTE : `${ROUTE_PREFIX}0/*`, `${JSON.stringify(a)} ${JSON.stringify(h)}`);
    }
    assert.ok(pdLines >= pdRequestIds.length, `${pdLines} P/D lines`);
    const ok = access.filter((a) => a.response_code === 200);
    assert.equal(ok.length, routed, "the 200s the tests saw");
    assert.ok(ok.every((a) => a.upstream_cluster === POD_CLUSTER));
    console.log(`# ${access.length} access log lines (EG's default) for ${sent} requests sent`);
  });
});
