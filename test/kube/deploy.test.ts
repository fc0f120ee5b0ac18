// Deployment artefacts, tested as far as this machine allows (no kubelet, no image builds, no Envoy
// Gateway controller):
//  - the Helm chart charts/infergate rendered by real Helm (scripts/get-helm.sh) with default and
//    non-default values, checked object by object, and applied with `kubectl apply --dry-run=server`
//    to a real kube-apiserver (test/harness/kube.ts) with our CRDs installed;
//  - the chart's Envoy bootstrap against envoy/bootstrap.yaml (same listeners, filters, cluster);
//  - the Envoy Gateway manifests (charts/infergate/envoy-gateway/) dry-run against Envoy Gateway's
//    own CRDs (scripts/get-helm.sh takes them from the Go module github.com/envoyproxy/gateway);
//  - the packaged wasm: the ConfigMap and the OCI image layout (digests, media types, tarball);
//  - and the chart's Envoy configuration in real Envoy: the rendered ConfigMap, Secret and
//    Deployment are laid out on disk the way the Pod's volumes would be, the init container's own
//    script fills the token in, Envoy runs with the Deployment's own arguments, a control plane
//    pushes a table with the Secret's token, and a request reaches a simulated pod.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parse as parseYaml } from "yaml";
import { type ControlPlane, startControlPlane } from "../../controlplane/control-plane.js";
import { createLogger } from "../../controlplane/log.js";
import { findEnvoy } from "../../scripts/lib/envoy-process.js";
import { renderConfig, SEED_MODEL } from "../../scripts/lib/local-gateway.js";
import { freePort } from "../../scripts/lib/ports.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import {
  OCI_INDEX_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  WASM_CONFIG_MEDIA_TYPE,
  WASM_LAYER_MEDIA_TYPE,
} from "../../scripts/lib/wasm-package.js";
import { type PackageResult, packageWasm } from "../../scripts/package-wasm.js";
import { gatewayApiCrdDir, type Kube, ourCrdFiles, startKube } from "../harness/kube.js";
import { type Manifest, manifestDocs, runTool } from "../harness/manifests.js";
import { type Fleet, startFleet } from "../sim/fleet.js";

const REPO = REPO_ROOT;
const CHART = join(REPO, "charts", "infergate");
const EG_DIR = join(CHART, "envoy-gateway");
const SEED_OVERLAY = join(REPO, "test", "kube", "fixtures", "seed-004-epp-overlay.yaml");

function helmBin(): string {
  if (process.env.HELM_BIN) return process.env.HELM_BIN;
  return execFileSync(join(REPO, "scripts", "get-helm.sh"), {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 30 * 60_000,
  })
    .trim()
    .split("\n")
    .pop()!;
}

let HELM = "";

/** `helm template` of the chart; `set` as --set-json pairs (typed values). */
async function render(
  release: string,
  namespace: string,
  set: Record<string, unknown> = {},
  extra: string[] = [],
): Promise<{ text: string; objs: Manifest[] }> {
  const args = ["template", release, CHART, "-n", namespace, ...extra];
  for (const [k, v] of Object.entries(set)) args.push("--set-json", `${k}=${JSON.stringify(v)}`);
  const r = await runTool(HELM, args);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return { text: r.stdout, objs: manifestDocs(r.stdout) };
}

async function renderFails(set: Record<string, unknown>): Promise<string> {
  const args = ["template", "infergate", CHART, "-n", "infergate-system"];
  for (const [k, v] of Object.entries(set)) args.push("--set-json", `${k}=${JSON.stringify(v)}`);
  const r = await runTool(HELM, args);
  assert.notEqual(r.code, 0, `helm accepted ${JSON.stringify(set)}`);
  return r.stderr;
}

function one(objs: Manifest[], kind: string, name?: string): Manifest {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `expected one ${kind}${name ? ` ${name}` : ""}, got ${found.length}`);
  return found[0]!;
}

function container(dep: Manifest, name: string, init = false): any {
  const list = (init ? dep.spec.template.spec.initContainers : dep.spec.template.spec.containers) as any[];
  const c = list.find((x) => x.name === name);
  assert.ok(c, `container ${name} in ${dep.metadata.name}`);
  return c;
}

function argAfter(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

/** envoy/bootstrap.yaml filled the way scripts/lib/envoy-process.ts fills it, parsed. */
function localBootstrap(vars: Record<string, string>): any {
  const text = readFileSync(join(REPO, "envoy", "bootstrap.yaml"), "utf8").replace(
    /\{\{([A-Z_]+)\}\}/g,
    (_, k: string) => {
      assert.ok(k in vars, `no value for {{${k}}}`);
      return vars[k]!;
    },
  );
  return parseYaml(text);
}

/** Parses every wasm plugin's JSON configuration in place (key order is not semantics). */
function normalizeBootstrap(b: any): any {
  const copy = JSON.parse(JSON.stringify(b));
  for (const l of copy.static_resources.listeners) {
    for (const f of l.filter_chains[0].filters[0].typed_config.http_filters) {
      const cfg = f.typed_config?.config?.configuration;
      if (cfg?.value) cfg.value = JSON.parse(cfg.value);
    }
  }
  delete copy.node.id;
  return copy;
}

function wasmFilters(b: any): Map<string, any> {
  const m = new Map<string, any>();
  for (const l of b.static_resources.listeners) {
    const f = l.filter_chains[0].filters[0].typed_config.http_filters.find(
      (x: any) => x.name === "envoy.filters.http.wasm",
    );
    if (f) m.set(l.name, f.typed_config.config);
  }
  return m;
}

let pkgDir = "";
let pkg: PackageResult;

before(async () => {
  HELM = helmBin();
  pkgDir = mkdtempSync(join(tmpdir(), "infergate-pkg-"));
  pkg = packageWasm({ out: pkgDir, namespace: "infergate-system" });
});
after(() => {
  if (pkgDir) rmSync(pkgDir, { recursive: true, force: true });
});

describe("Helm chart: rendering", () => {
  test("files/envoy-bootstrap.yaml is envoy/bootstrap.yaml (a symlink, so the two cannot drift)", () => {
    assert.equal(
      realpathSync(join(CHART, "files", "envoy-bootstrap.yaml")),
      realpathSync(join(REPO, "envoy", "bootstrap.yaml")),
    );
  });

  test("default values: every object, named for release infergate in infergate-system", async () => {
    const { objs } = await render("infergate", "infergate-system");
    const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(kinds, [
      "ClusterRole/infergate-controlplane",
      "ClusterRoleBinding/infergate-controlplane",
      "ConfigMap/infergate-dashboard",
      "ConfigMap/infergate-envoy",
      "Deployment/infergate",
      "PodDisruptionBudget/infergate",
      "Secret/infergate-token",
      "Service/infergate",
      "ServiceAccount/infergate",
    ]);
    for (const o of objs)
      if (!o.kind.startsWith("Cluster")) assert.equal(o.metadata.namespace, "infergate-system", `${o.kind} namespace`);

    const svc = one(objs, "Service");
    assert.deepEqual(svc.spec.ports, [{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }]);
    const dep = one(objs, "Deployment");
    assert.deepEqual(svc.spec.selector, dep.spec.selector.matchLabels);
    assert.equal(dep.spec.replicas, 2);
    const pod = dep.spec.template.spec;
    assert.equal(pod.serviceAccountName, "infergate");
    const envoy = container(dep, "envoy");
    assert.equal(envoy.image, "envoyproxy/envoy:v1.36.4");
    assert.deepEqual(envoy.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
    assert.deepEqual(envoy.livenessProbe.tcpSocket, { port: "http" });
    assert.deepEqual(envoy.readinessProbe.httpGet, { path: "/infergate/envoy-ready", port: "http" });
    // Graceful shutdown: the sidecar drains Envoy (its preStop), Envoy's preStop waits for that.
    assert.deepEqual(container(dep, "controlplane").lifecycle.preStop.exec.command, [
      "node",
      "/app/build/js/controlplane/envoy-drain.js",
      "--admin",
      "http://127.0.0.1:9901",
      "--propagation",
      "5s",
      "--max-wait",
      "125s",
      "--done-file",
      "/var/lib/infergate/endpoints/drained",
    ]);
    assert.match(envoy.lifecycle.preStop.exec.command[2], /\/var\/lib\/infergate\/endpoints\/drained/);
    assert.equal(pod.terminationGracePeriodSeconds, 5 + 5 + 120 + 10);
    assert.equal(argAfter(envoy.args, "--drain-time-s"), "5");
    const cp = container(dep, "controlplane");
    assert.equal(cp.image, "ghcr.io/infergate/controlplane:0.1.0");
    assert.equal(argAfter(cp.args, "--source"), "kubernetes");
    assert.equal(argAfter(cp.args, "--namespace"), "infergate-system");
    assert.equal(argAfter(cp.args, "--envoy-control"), "http://127.0.0.1:9002");
    assert.equal(argAfter(cp.args, "--token-file"), "/var/run/infergate/token");
    assert.equal(argAfter(cp.args, "--listen"), "0.0.0.0:9090");
    // The Gateway API controller: the seed's Gateway gets this Service's address.
    assert.equal(argAfter(cp.args, "--gateway-service"), "infergate-system/infergate");
    assert.equal(argAfter(cp.args, "--gateway-controller-name"), "infergate.dev/gateway-controller");
    // The pods cluster's endpoints: written by the sidecar into a volume Envoy reads.
    assert.equal(argAfter(cp.args, "--envoy-endpoints-dir"), "/var/lib/infergate/endpoints");
    assert.equal(argAfter(cp.args, "--envoy-admin"), "http://127.0.0.1:9901");
    assert.ok(pod.volumes.find((v: any) => v.name === "endpoints").emptyDir);
    assert.ok(cp.volumeMounts.some((m: any) => m.name === "endpoints" && !m.readOnly));
    assert.ok(envoy.volumeMounts.some((m: any) => m.name === "endpoints" && m.readOnly));
    assert.equal(cp.readinessProbe.httpGet.path, "/readyz");
    assert.equal(cp.livenessProbe.httpGet.path, "/healthz");
    assert.equal(cp.readinessProbe.httpGet.port, "cp-http");
    // The token file the sidecar reads is the Secret's key, mounted.
    const tokenVol = pod.volumes.find((v: any) => v.name === "token");
    assert.deepEqual(tokenVol.secret, { secretName: "infergate-token", items: [{ key: "token", path: "token" }] });
    assert.ok(cp.volumeMounts.some((m: any) => m.name === "token" && m.mountPath === "/var/run/infergate"));
    const wasmVol = pod.volumes.find((v: any) => v.name === "wasm");
    assert.deepEqual(wasmVol.configMap, {
      name: "infergate-wasm",
      items: [{ key: "infergate.wasm", path: "infergate.wasm" }],
    });
    assert.equal(pod.initContainers.map((c: any) => c.name).join(","), "render-bootstrap");

    const secret = one(objs, "Secret");
    const token = Buffer.from(secret.data.token, "base64").toString();
    assert.match(token, /^[A-Za-z0-9]{48}$/);
    // Never in the ConfigMap.
    assert.ok(!one(objs, "ConfigMap", "infergate-envoy").data["bootstrap.yaml"].includes(token));
    const pdb = one(objs, "PodDisruptionBudget");
    assert.equal(pdb.spec.minAvailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, dep.spec.selector.matchLabels);
  });

  test("the Grafana dashboard ConfigMap: the sidecar's label, the dashboard file verbatim; the PodMonitor", async () => {
    const { objs } = await render("infergate", "infergate-system");
    const cm = one(objs, "ConfigMap", "infergate-dashboard");
    assert.equal(cm.metadata.labels!.grafana_dashboard, "1");
    assert.equal(cm.metadata.namespace, "infergate-system");
    const file = readFileSync(join(CHART, "dashboards", "infergate.json"), "utf8");
    assert.equal(cm.data["infergate.json"], file.trimEnd());
    const dash = JSON.parse(cm.data["infergate.json"]);
    assert.equal(dash.uid, "infergate");
    assert.ok(dash.panels.some((p: any) => p.title === "Traffic share per pod"));
    assert.equal(objs.filter((o) => o.kind === "PodMonitor").length, 0, "no PodMonitor unless asked");

    const other = await render("gw", "ops", {
      "grafanaDashboard.namespace": "monitoring",
      "grafanaDashboard.labels": { grafana_dashboard: "infergate" },
      "grafanaDashboard.annotations": { grafana_folder: "LLM" },
      "podMonitor.enabled": true,
      "podMonitor.labels": { release: "prom" },
    });
    const cm2 = one(other.objs, "ConfigMap", "gw-infergate-dashboard");
    assert.equal(cm2.metadata.namespace, "monitoring");
    assert.equal(cm2.metadata.labels!.grafana_dashboard, "infergate");
    assert.equal(cm2.metadata.annotations!.grafana_folder, "LLM");
    const pm = one(other.objs, "PodMonitor");
    const dep = one(other.objs, "Deployment");
    assert.deepEqual(pm.spec.selector.matchLabels, dep.spec.selector.matchLabels);
    assert.equal(pm.metadata.labels!.release, "prom");
    assert.deepEqual(
      pm.spec.podMetricsEndpoints.map((e: any) => [e.port, e.path]),
      [
        ["cp-http", "/metrics"],
        ["cp-http", "/metrics/envoy"],
      ],
    );
    const noDash = await render("infergate", "infergate-system", { "grafanaDashboard.enabled": false });
    assert.equal(noDash.objs.filter((o) => o.metadata.name === "infergate-dashboard").length, 0);
  });

  test("templates/rbac.yaml: the default render is the plain file (plus Helm labels)", async () => {
    const { objs } = await render("infergate", "infergate-system");
    const plain = manifestDocs(readFileSync(join(CHART, "templates", "rbac.yaml"), "utf8"));
    assert.equal(plain.length, 3);
    for (const p of plain) {
      const r = one(objs, p.kind, p.metadata.name);
      const strip = (o: Manifest) => ({ ...o, metadata: { ...o.metadata, labels: undefined } });
      assert.deepEqual(strip(r), strip(p), `${p.kind} differs from the plain reading`);
      for (const [k, v] of Object.entries(p.metadata.labels ?? {})) assert.equal(r.metadata.labels?.[k], v);
    }
  });

  test("the bootstrap ConfigMap is envoy/bootstrap.yaml with the same listeners, filters and cluster", async () => {
    const { objs } = await render("infergate", "infergate-system");
    const chart = parseYaml(one(objs, "ConfigMap", "infergate-envoy").data["bootstrap.yaml"]);
    const dep = one(objs, "Deployment");
    const wasmMount = container(dep, "envoy").volumeMounts.find((m: any) => m.name === "wasm").mountPath;
    const local = localBootstrap({
      INSTANCE: "x",
      ADMIN_PORT: "9901",
      PORT: "8080",
      LISTEN_ADDRESS: "0.0.0.0",
      CONTROL_PORT: "9002",
      BUFFER_LIMIT: String(8388608 * 2 + 65536),
      ENDPOINTS_DIR: "/var/lib/infergate/endpoints",
      MAX_HEAP_BYTES: "1610612736",
      WASM_PATH: `${wasmMount}/infergate.wasm`,
      GATEWAY_CONFIG: JSON.stringify({ mode: "gateway", maxBodyBytes: 8388608, handledLog: "access-log" }),
      CONTROL_CONFIG: JSON.stringify({ mode: "control", token: "@@INFERGATE_CONTROL_TOKEN@@" }),
    });
    assert.deepEqual(normalizeBootstrap(chart), normalizeBootstrap(local));
    // And what that means, spelled out:
    assert.deepEqual(
      chart.static_resources.listeners.map((l: any) =>
        l.internal_listener !== undefined
          ? [l.name, "internal"]
          : [l.name, l.address.socket_address.address, l.address.socket_address.port_value],
      ),
      [
        ["infergate_public", "0.0.0.0", 8080],
        // P/D prefill calls pass through it (in process) so a client abort can reset them.
        ["infergate_prefill", "internal"],
        ["infergate_control", "127.0.0.1", 9002],
      ],
    );
    assert.equal(chart.admin.address.socket_address.address, "127.0.0.1");
    const filters = wasmFilters(chart);
    for (const [l, c] of filters) {
      assert.equal(c.vm_config.vm_id, "infergate", l);
      // The public listener's filter pauses in the headers phase (waiting for the body); the
      // prefill leg's only watches its call and never stops iteration.
      if (l !== "infergate_prefill") assert.equal(c.allow_on_headers_stop_iteration, true, l);
      assert.equal(c.failure_policy, "FAIL_CLOSED", l);
      assert.equal(c.vm_config.code.local.filename, "/etc/infergate/wasm/infergate.wasm", l);
    }
    const cluster = chart.static_resources.clusters.find((c: any) => c.name === "infergate_pods");
    assert.equal(cluster.type, "EDS");
    assert.equal(
      cluster.eds_cluster_config.eds_config.path_config_source.path,
      "/var/lib/infergate/endpoints/endpoints.json",
    );
    const lb = cluster.load_balancing_policy.policies[0].typed_extension_config;
    assert.equal(lb.name, "envoy.load_balancing_policies.override_host");
    assert.deepEqual(lb.typed_config.override_host_sources, [{ header: "x-gateway-destination-endpoint" }]);
    // Envoy's -c is where the init container writes the filled-in copy.
    const init = container(dep, "render-bootstrap", true);
    const out = init.env.find((e: any) => e.name === "INFERGATE_BOOTSTRAP").value;
    assert.equal(argAfter(container(dep, "envoy").args, "-c"), out);
  });

  test("non-default values: namespace, names, replicas, the seed epp-overlay keys, OCI wasm, given token", async () => {
    const overlay = parseYaml(manifestDocs(readFileSync(SEED_OVERLAY, "utf8"))[0]!.data.deployment);
    const seedResources = overlay.spec.template.spec.containers[0].resources;
    const { objs } = await render("gw", "llm", {
      replicas: overlay.spec.replicas,
      affinity: overlay.spec.template.spec.affinity,
      "controlPlane.resources": seedResources,
      "controlPlane.watchNamespace": "models",
      "controlPlane.extraArgs": ["--scrape-interval", "200ms"],
      "envoy.port": 9080,
      "envoy.concurrency": 4,
      "envoy.maxBodyBytes": 2097152,
      "envoy.gatewayConfig": { weights: { "queue-scorer": 2 } },
      "envoy.image.tag": "v1.36.2",
      "controlPlane.image.tag": "dev",
      "service.type": "LoadBalancer",
      "wasm.source": "oci",
      "wasm.oci.reference": "registry.example.com/infergate/filter:0.1.0",
      "wasm.sha256": pkg.wasmSha256,
      "token.value": "a-given-token_0123456789",
    });
    const dep = one(objs, "Deployment", "gw-infergate");
    assert.equal(dep.metadata.namespace, "llm");
    // epp-overlay: deployment.spec.replicas, template.spec.affinity, containers[].resources
    assert.equal(dep.spec.replicas, 1);
    assert.deepEqual(dep.spec.template.spec.affinity, overlay.spec.template.spec.affinity);
    assert.deepEqual(container(dep, "controlplane").resources, seedResources);
    // One replica: no PodDisruptionBudget (it would block every drain).
    assert.equal(objs.filter((o) => o.kind === "PodDisruptionBudget").length, 0);
    const cp = container(dep, "controlplane");
    assert.equal(cp.image, "ghcr.io/infergate/controlplane:dev");
    assert.equal(argAfter(cp.args, "--namespace"), "models");
    assert.equal(argAfter(cp.args, "--scrape-interval"), "200ms");
    assert.equal(argAfter(cp.args, "--gateway-service"), "llm/gw-infergate");
    const envoy = container(dep, "envoy");
    assert.equal(envoy.image, "envoyproxy/envoy:v1.36.2");
    assert.equal(argAfter(envoy.args, "--concurrency"), "4");
    assert.equal(envoy.ports[0].containerPort, 9080);
    assert.equal(one(objs, "Service").spec.type, "LoadBalancer");
    // OCI: an init container pulls the artifact into an emptyDir, before the bootstrap is filled.
    const pod = dep.spec.template.spec;
    assert.deepEqual(
      pod.initContainers.map((c: any) => c.name),
      ["fetch-wasm", "render-bootstrap"],
    );
    assert.deepEqual(container(dep, "fetch-wasm", true).args, [
      "pull",
      "registry.example.com/infergate/filter:0.1.0",
      "--output",
      "/etc/infergate/wasm",
    ]);
    assert.ok(pod.volumes.find((v: any) => v.name === "wasm").emptyDir);
    assert.equal(dep.spec.template.metadata.annotations["infergate.dev/wasm-sha256"], pkg.wasmSha256);
    // Names follow the release; the RBAC binds the release's ServiceAccount in its namespace.
    const sa = one(objs, "ServiceAccount", "gw-infergate");
    assert.equal(sa.metadata.namespace, "llm");
    const crb = one(objs, "ClusterRoleBinding", "gw-infergate-controlplane");
    assert.deepEqual(crb.subjects, [{ kind: "ServiceAccount", name: "gw-infergate", namespace: "llm" }]);
    assert.equal(crb.roleRef.name, "gw-infergate-controlplane");
    one(objs, "ClusterRole", "gw-infergate-controlplane");
    assert.equal(
      Buffer.from(one(objs, "Secret", "gw-infergate-token").data.token, "base64").toString(),
      "a-given-token_0123456789",
    );
    // The bootstrap follows the values.
    const b = parseYaml(one(objs, "ConfigMap", "gw-infergate-envoy").data["bootstrap.yaml"]);
    const pub = b.static_resources.listeners.find((l: any) => l.name === "infergate_public");
    assert.equal(pub.address.socket_address.port_value, 9080);
    assert.equal(pub.per_connection_buffer_limit_bytes, 2097152 * 2 + 65536);
    assert.deepEqual(JSON.parse(wasmFilters(b).get("infergate_public").configuration.value), {
      mode: "gateway",
      maxBodyBytes: 2097152,
      weights: { "queue-scorer": 2 },
      handledLog: "access-log",
    });
  });

  test("other shapes: all namespaces, an existing Secret, no ServiceAccount/RBAC, maxUnavailable", async () => {
    const { objs } = await render("infergate", "infergate-system", {
      "controlPlane.allNamespaces": true,
      "token.existingSecret": "my-token",
      "token.existingSecretKey": "bearer",
      "serviceAccount.create": false,
      "serviceAccount.name": "custom-sa",
      "rbac.create": false,
      "podDisruptionBudget.minAvailable": "",
      "podDisruptionBudget.maxUnavailable": 1,
      "gatewayAPI.enabled": false,
    });
    assert.deepEqual(objs.map((o) => o.kind).sort(), [
      "ConfigMap",
      "ConfigMap",
      "Deployment",
      "PodDisruptionBudget",
      "Service",
    ]);
    const dep = one(objs, "Deployment");
    const cp = container(dep, "controlplane");
    assert.ok(cp.args.includes("--all-namespaces"));
    assert.ok(!cp.args.includes("--gateway-service"), "another controller owns the Gateway API objects");
    assert.equal(argAfter(cp.args, "--namespace"), undefined);
    assert.equal(dep.spec.template.spec.serviceAccountName, "custom-sa");
    assert.deepEqual(dep.spec.template.spec.volumes.find((v: any) => v.name === "token").secret, {
      secretName: "my-token",
      items: [{ key: "bearer", path: "token" }],
    });
    assert.equal(one(objs, "PodDisruptionBudget").spec.maxUnavailable, 1);
    // The RBAC for an existing ServiceAccount: Envoy Gateway mode renders just this file.
    const rbac = await render(
      "infergate",
      "envoy-gateway-system",
      { "serviceAccount.create": false, "serviceAccount.name": "infergate-envoy" },
      ["--show-only", "templates/rbac.yaml"],
    );
    assert.deepEqual(
      rbac.objs.map((o) => o.kind),
      ["ClusterRole", "ClusterRoleBinding"],
    );
    assert.deepEqual(rbac.objs[1]!.subjects, [
      { kind: "ServiceAccount", name: "infergate-envoy", namespace: "envoy-gateway-system" },
    ]);
  });

  test("refused values: a bad token, an unknown wasm source, oci without a reference, both PDB bounds, a bad access-log flush interval", async () => {
    assert.match(await renderFails({ "token.value": "has space and $ign 0123456" }), /token\.value/);
    assert.match(await renderFails({ "token.value": "short" }), /token\.value/);
    assert.match(await renderFails({ "wasm.source": "http" }), /wasm\.source "http"/);
    assert.match(await renderFails({ "wasm.source": "oci" }), /wasm\.oci\.reference/);
    assert.match(await renderFails({ "podDisruptionBudget.maxUnavailable": 1 }), /not both/);
    for (const flush of ["fast", 0, 2.5, 120000, null])
      assert.match(await renderFails({ "envoy.accessLogFlushMs": flush }), /envoy\.accessLogFlushMs/);
  });
});

describe("packaged wasm", () => {
  test("ConfigMap: binaryData infergate.wasm is the module, under 1 MiB", () => {
    const cm = manifestDocs(readFileSync(pkg.configMap, "utf8"));
    assert.equal(cm.length, 1);
    assert.equal(cm[0]!.kind, "ConfigMap");
    assert.equal(cm[0]!.metadata.name, "infergate-wasm");
    assert.equal(cm[0]!.metadata.namespace, "infergate-system");
    const bytes = Buffer.from(cm[0]!.binaryData["infergate.wasm"], "base64");
    assert.ok(bytes.equals(readFileSync(join(REPO, "build", "infergate.wasm"))));
    assert.ok(cm[0]!.binaryData["infergate.wasm"].length < 1 << 20);
    assert.equal(
      cm[0]!.metadata.annotations!["infergate.dev/wasm-sha256"],
      createHash("sha256").update(bytes).digest("hex"),
    );
  });

  test("OCI image layout: index, manifest, blobs named by their digests, the wasm layer media type", () => {
    const root = pkg.ociLayout;
    const blob = (digest: string) => readFileSync(join(root, "blobs", "sha256", digest.replace(/^sha256:/, "")));
    const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
    assert.deepEqual(JSON.parse(readFileSync(join(root, "oci-layout"), "utf8")), { imageLayoutVersion: "1.0.0" });
    const index = JSON.parse(readFileSync(join(root, "index.json"), "utf8"));
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, OCI_INDEX_MEDIA_TYPE);
    assert.equal(index.manifests.length, 1);
    const md = index.manifests[0];
    assert.equal(md.mediaType, OCI_MANIFEST_MEDIA_TYPE);
    assert.equal(md.annotations["org.opencontainers.image.ref.name"], pkg.tag);
    const manifestBytes = blob(md.digest);
    assert.equal(sha(manifestBytes), md.digest);
    assert.equal(manifestBytes.length, md.size);
    assert.equal(md.digest, pkg.manifestDigest);
    const manifest = JSON.parse(manifestBytes.toString());
    assert.equal(manifest.schemaVersion, 2);
    assert.equal(manifest.mediaType, OCI_MANIFEST_MEDIA_TYPE);
    // Every descriptor points at a blob with that digest and size.
    for (const d of [manifest.config, ...manifest.layers]) {
      const b = blob(d.digest);
      assert.equal(sha(b), d.digest);
      assert.equal(b.length, d.size);
    }
    // Every blob file is named by its own digest (nothing stale left in the layout).
    for (const f of readdirSync(join(root, "blobs", "sha256"))) assert.equal(sha(blob(f)), `sha256:${f}`);
    // The *oci* variant of the Wasm Image Specification: two layers, runtime config + module.
    assert.equal(manifest.config.mediaType, WASM_CONFIG_MEDIA_TYPE);
    assert.deepEqual(
      manifest.layers.map((l: any) => [l.mediaType, l.annotations["org.opencontainers.image.title"]]),
      [
        [WASM_CONFIG_MEDIA_TYPE, "runtime-config.json"],
        [WASM_LAYER_MEDIA_TYPE, "infergate.wasm"],
      ],
    );
    assert.equal(WASM_LAYER_MEDIA_TYPE, "application/vnd.module.wasm.content.layer.v1+wasm");
    const runtime = JSON.parse(blob(manifest.config.digest).toString());
    assert.equal(runtime.type, "envoy_proxy");
    assert.deepEqual(runtime.config.root_ids, ["infergate", "infergate_control"]);
    assert.ok(blob(manifest.layers[1].digest).equals(readFileSync(join(REPO, "build", "infergate.wasm"))));
    assert.equal(`sha256:${pkg.wasmSha256}`, manifest.layers[1].digest);
  });

  test("OCI tarball: system tar extracts exactly the layout; packaging is deterministic", () => {
    const x = mkdtempSync(join(tmpdir(), "infergate-oci-x-"));
    try {
      execFileSync("tar", ["-xf", pkg.ociTar, "-C", x]);
      const list = (d: string, pre = ""): string[] =>
        readdirSync(join(d, pre), { withFileTypes: true })
          .flatMap((e) => (e.isDirectory() ? list(d, join(pre, e.name)) : [join(pre, e.name)]))
          .sort();
      assert.deepEqual(list(x), list(pkg.ociLayout));
      for (const f of list(x)) assert.ok(readFileSync(join(x, f)).equals(readFileSync(join(pkg.ociLayout, f))), f);
      const again = packageWasm({ out: join(x, "again"), namespace: "infergate-system" });
      assert.equal(again.manifestDigest, pkg.manifestDigest);
      assert.ok(readFileSync(again.ociTar).equals(readFileSync(pkg.ociTar)));
    } finally {
      rmSync(x, { recursive: true, force: true });
    }
  });
});

/** Envoy Gateway's CRDs rendered by scripts/get-helm.sh, if it could get them. */
function egCrdFile(): string | undefined {
  const base = join(REPO, ".tools", "envoy-gateway");
  if (!existsSync(base)) return undefined;
  const v = readdirSync(base).sort().pop();
  const f = v ? join(base, v, "crds.yaml") : "";
  return f && existsSync(f) ? f : undefined;
}

describe("against a real kube-apiserver (server-side dry run)", { timeout: 300_000 }, () => {
  let kube: Kube;
  let egCrds: string | undefined;
  let gatewayApi: string | undefined;

  before(async () => {
    kube = await startKube();
    assert.ok(kube.hasKubectl, "kubectl is needed for these tests (scripts/get-kube.sh builds it)");
    await kube.installCrds(ourCrdFiles());
    gatewayApi = gatewayApiCrdDir();
    if (gatewayApi)
      await kube.installCrds(
        readdirSync(gatewayApi)
          .filter((f) => f.endsWith(".yaml"))
          .map((f) => join(gatewayApi!, f)),
      );
    egCrds = egCrdFile();
    if (egCrds) console.log(`# installed Envoy Gateway CRDs: ${(await kube.installCrds([egCrds])).join(", ")}`);
    for (const ns of ["infergate-system", "llm", "envoy-gateway-system"]) {
      const r = await kube.kubectl(["create", "namespace", ns]);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    await kube?.stop();
  });

  const dryRun = async (yaml: string) => kube.kubectl(["apply", "--dry-run=server", "-f", "-"], yaml);
  // The wasm ConfigMap as the README applies it: server-side, so no last-applied-configuration
  // annotation copies the module into metadata (annotations are limited to 256 KiB; the module may
  // take the ConfigMap's whole 1 MiB).
  const dryRunServerSide = async (yaml: string) =>
    kube.kubectl(["apply", "--server-side", "--dry-run=server", "-f", "-"], yaml);

  test("the chart with default values, and the packaged wasm ConfigMap", async () => {
    const { text } = await render("infergate", "infergate-system");
    const r = await dryRun(text);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deployment\.apps\/infergate created \(server dry run\)/);
    assert.match(
      r.stdout,
      /clusterrolebinding\.rbac\.authorization\.k8s\.io\/infergate-controlplane created \(server dry run\)/,
    );
    const c = await dryRunServerSide(readFileSync(pkg.configMap, "utf8"));
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /configmap\/infergate-wasm serverside-applied \(server dry run\)/);
  });

  test("the chart with non-default values", async () => {
    const overlay = parseYaml(manifestDocs(readFileSync(SEED_OVERLAY, "utf8"))[0]!.data.deployment);
    const { text } = await render("gw", "llm", {
      replicas: 3,
      affinity: overlay.spec.template.spec.affinity,
      "controlPlane.resources": overlay.spec.template.spec.containers[0].resources,
      "wasm.source": "oci",
      "wasm.oci.reference": "registry.example.com/infergate/filter:0.1.0",
      "podDisruptionBudget.minAvailable": "",
      "podDisruptionBudget.maxUnavailable": "34%",
      "controlPlane.allNamespaces": true,
      "service.type": "LoadBalancer",
      "token.value": "a-given-token_0123456789",
    });
    const r = await dryRun(text);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deployment\.apps\/gw-infergate created \(server dry run\)/);
    assert.match(r.stdout, /poddisruptionbudget\.policy\/gw-infergate created \(server dry run\)/);
  });

  test("the server refuses a broken render (the dry run checks something)", async () => {
    const { objs } = await render("infergate", "infergate-system");
    const dep = one(objs, "Deployment");
    container(dep, "envoy").ports[0].containerPort = 70000;
    const r = await dryRun(JSON.stringify(dep));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /containerPort/);
  });

  test("Envoy Gateway manifests (envoy-gateway/) against Envoy Gateway CRDs", async (t) => {
    if (!egCrds || !gatewayApi) {
      t.skip(
        `missing ${!egCrds ? "Envoy Gateway CRDs (scripts/get-helm.sh could not get github.com/envoyproxy/gateway)" : "Gateway API CRDs"}`,
      );
      return;
    }
    const files = readdirSync(EG_DIR)
      .filter((f) => f.endsWith(".yaml"))
      .sort();
    assert.deepEqual(files, [
      "10-gateway.yaml",
      "20-envoyproxy.yaml",
      "30-envoyextensionpolicy.yaml",
      "35-clienttrafficpolicy.yaml",
      "40-envoypatchpolicy.yaml",
    ]);
    const all = files.map((f) => readFileSync(join(EG_DIR, f), "utf8")).join("\n---\n");
    const r = await dryRun(all);
    assert.equal(r.code, 0, r.stderr);
    for (const k of [
      "gatewayclass",
      "gateway",
      "httproute",
      "envoyproxy",
      "envoyextensionpolicy",
      "clienttrafficpolicy",
      "envoypatchpolicy",
    ]) {
      assert.match(
        r.stdout,
        new RegExp(`^${k}\\.[a-z0-9.]+/[a-z-]+ created \\(server dry run\\)$`, "m"),
        `${k} in:\n${r.stdout}`,
      );
    }
    // The RBAC for the sidecar in the Envoy Pods: the chart's own file, for EG's ServiceAccount.
    const rbac = await render(
      "infergate",
      "envoy-gateway-system",
      { "serviceAccount.create": false, "serviceAccount.name": "infergate-envoy" },
      ["--show-only", "templates/rbac.yaml"],
    );
    const rr = await dryRun(rbac.text);
    assert.equal(rr.code, 0, rr.stderr);
    // The wasm ConfigMap for envoy-gateway-system.
    const x = mkdtempSync(join(tmpdir(), "infergate-eg-"));
    try {
      const p = packageWasm({ out: x, namespace: "envoy-gateway-system" });
      const c = await dryRunServerSide(readFileSync(p.configMap, "utf8"));
      assert.equal(c.code, 0, c.stderr);
    } finally {
      rmSync(x, { recursive: true, force: true });
    }
  });

  test("Envoy Gateway CRDs refuse what the manifests must not say (the validation is real)", async (t) => {
    if (!egCrds) {
      t.skip("no Envoy Gateway CRDs");
      return;
    }
    const eep = manifestDocs(readFileSync(join(EG_DIR, "30-envoyextensionpolicy.yaml"), "utf8"))[0]!;
    delete eep.spec.wasm[0].code.image;
    const r = await dryRun(JSON.stringify(eep));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /If type is Image, image field needs to be set/);
    const epp = manifestDocs(readFileSync(join(EG_DIR, "40-envoypatchpolicy.yaml"), "utf8"))[0]!;
    epp.spec.jsonPatches[0].type = "type.googleapis.com/envoy.config.core.v3.Node";
    const r2 = await dryRun(JSON.stringify(epp));
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /jsonPatches\[0\]\.type.*Unsupported value/);
  });
});

describe("the chart's Envoy configuration in real Envoy", { timeout: 120_000 }, () => {
  let dir = "";
  let envoy: ReturnType<typeof spawn> | null = null;
  let envoyLog = "";
  let fleet: Fleet | null = null;
  let cp: ControlPlane | null = null;

  after(async () => {
    await cp?.stop();
    if (envoy && envoy.exitCode === null) {
      envoy.kill("SIGTERM");
      await Promise.race([new Promise((r) => envoy!.once("exit", r)), sleep(5000)]);
      if (envoy.exitCode === null) envoy.kill("SIGKILL");
    }
    await fleet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("rendered ConfigMap + Secret + Deployment, laid out as the Pod sees them, route a request to a simulated pod", async () => {
    const [port, controlPort, adminPort] = await Promise.all([freePort(), freePort(), freePort()]);
    // Test values: loopback ports (this machine), one worker. Nothing else differs from a cluster.
    const { objs } = await render("infergate", "infergate-system", {
      "envoy.port": port,
      "envoy.controlPort": controlPort,
      "envoy.adminPort": adminPort,
      "envoy.listenAddress": "127.0.0.1",
      "envoy.concurrency": 1,
      "envoy.logLevel": "warning",
    });
    const dep = one(objs, "Deployment");
    const pod = dep.spec.template.spec;
    dir = mkdtempSync(join(tmpdir(), "infergate-pod-"));

    // Volumes, as the kubelet would project them (ConfigMap / Secret items; emptyDir).
    const volumeDir = new Map<string, string>();
    const configMaps = new Map<string, Record<string, Buffer>>([
      [
        one(objs, "ConfigMap", "infergate-envoy").metadata.name,
        { "bootstrap.yaml": Buffer.from(one(objs, "ConfigMap", "infergate-envoy").data["bootstrap.yaml"]) },
      ],
    ]);
    const packaged = manifestDocs(readFileSync(pkg.configMap, "utf8"))[0]!; // scripts/package-wasm.sh's ConfigMap
    configMaps.set(
      packaged.metadata.name,
      Object.fromEntries(
        Object.entries(packaged.binaryData as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64")]),
      ),
    );
    const secret = one(objs, "Secret", "infergate-token");
    const secrets = new Map<string, Record<string, Buffer>>([
      [
        secret.metadata.name,
        Object.fromEntries(
          Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64")]),
        ),
      ],
    ]);
    for (const v of pod.volumes) {
      const d = join(dir, "volumes", v.name);
      mkdirSync(d, { recursive: true });
      volumeDir.set(v.name, d);
      const src = v.configMap
        ? configMaps.get(v.configMap.name)
        : v.secret
          ? secrets.get(v.secret.secretName)
          : undefined;
      if (v.configMap || v.secret) {
        assert.ok(
          src,
          `volume ${v.name}: its ${v.configMap ? "ConfigMap" : "Secret"} is not among the rendered/packaged objects`,
        );
        const items: Array<{ key: string; path: string }> =
          (v.configMap ?? v.secret).items ?? Object.keys(src!).map((k) => ({ key: k, path: k }));
        for (const it of items) {
          assert.ok(src![it.key], `volume ${v.name}: key ${it.key} missing`);
          writeFileSync(join(d, it.path), src![it.key]!);
        }
      } else assert.ok(v.emptyDir, `volume ${v.name}: unexpected kind`);
    }
    /** A path inside a container -> the local path, by that container's volume mounts. */
    const mapper =
      (c: any) =>
      (p: string): string => {
        const m = (c.volumeMounts as any[])
          .filter((x) => p === x.mountPath || p.startsWith(`${x.mountPath}/`))
          .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
        assert.ok(m, `${c.name}: ${p} is on no volume`);
        return volumeDir.get(m.name)! + p.slice(m.mountPath.length);
      };

    // The init container's own script, with its env mapped onto the volumes.
    const init = container(dep, "render-bootstrap", true);
    const initMap = mapper(init);
    const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
    for (const e of init.env) env[e.name] = initMap(e.value);
    assert.equal(init.command[0], "/bin/sh");
    execFileSync("/bin/sh", init.command.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
    const token = secrets.get("infergate-token")!.token!.toString();

    // Envoy with the Deployment's own arguments; -c mapped. The rendered bootstrap names the wasm by
    // its mount path: the one substitution a container's mount namespace does for free.
    const ec = container(dep, "envoy");
    const envoyMap = mapper(ec);
    const args: string[] = [...ec.args];
    const ci = args.indexOf("-c");
    const bootstrapPath = envoyMap(args[ci + 1]!);
    let bootstrap = readFileSync(bootstrapPath, "utf8");
    assert.ok(bootstrap.includes(`"token":"${token}"`), "the init container filled the Secret token in");
    assert.ok(!bootstrap.includes("@@INFERGATE_CONTROL_TOKEN@@"));
    const wasmMount = ec.volumeMounts.find((m: any) => m.name === "wasm").mountPath;
    bootstrap = bootstrap.split(`${wasmMount}/`).join(`${envoyMap(wasmMount)}/`);
    const endpointsMount = ec.volumeMounts.find((m: any) => m.name === "endpoints").mountPath;
    bootstrap = bootstrap.split(endpointsMount).join(envoyMap(endpointsMount));
    const localBootstrapPath = join(dir, "envoy.local.yaml");
    writeFileSync(localBootstrapPath, bootstrap);
    args[ci + 1] = localBootstrapPath;
    envoy = spawn(findEnvoy(), args, { stdio: ["ignore", "pipe", "pipe"] });
    envoy.stdout!.on("data", (b: Buffer) => (envoyLog += b.toString()));
    envoy.stderr!.on("data", (b: Buffer) => (envoyLog += b.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (envoy.exitCode !== null) assert.fail(`envoy exited ${envoy.exitCode}:\n${envoyLog.slice(-3000)}`);
      try {
        if ((await fetch(`http://127.0.0.1:${adminPort}/ready`)).status === 200) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) assert.fail(`envoy not ready:\n${envoyLog.slice(-3000)}`);
      await sleep(100);
    }

    // The control listener takes only the Secret's token.
    const cpc = container(dep, "controlplane");
    const controlUrl = argAfter(cpc.args, "--envoy-control")!;
    assert.equal(controlUrl, `http://127.0.0.1:${controlPort}`);
    const wrong = await fetch(`${controlUrl}/infergate/v1/table`, {
      method: "POST",
      headers: { authorization: "Bearer not-the-token-0123456789", "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(wrong.status, 401);

    // A control plane with the sidecar's target and token (file source: the cluster's part is tested
    // by the Kubernetes-source tests), then a request through the public listener.
    fleet = await startFleet({ model: SEED_MODEL, pods: 2 });
    const cfg = join(dir, "fleet.yaml");
    writeFileSync(cfg, renderConfig(fleet));
    const tokenFile = mapper(cpc)(argAfter(cpc.args, "--token-file")!);
    cp = await startControlPlane({
      source: "file",
      file: cfg,
      envoyControl: [controlUrl],
      envoyEndpointsDir: mapper(cpc)(argAfter(cpc.args, "--envoy-endpoints-dir")!),
      envoyAdmin: [argAfter(cpc.args, "--envoy-admin")!],
      token: readFileSync(tokenFile, "utf8").trim(),
      logger: createLogger({ component: "controlplane", level: "warn" }),
    });
    const url = `http://127.0.0.1:${port}/v1/chat/completions`;
    let last = "";
    const until = Date.now() + 20_000;
    for (;;) {
      const r = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: SEED_MODEL,
          messages: [{ role: "user", content: "Hello, this is a test" }],
          max_tokens: 4,
        }),
      });
      last = `${r.status} ${await r.text()}`;
      if (r.status === 200) {
        const pod = r.headers.get("x-sim-pod");
        assert.ok(pod && fleet.pods.some((p) => p.name === pod), `answered by ${pod}`);
        break;
      }
      if (Date.now() > until) assert.fail(`no 200 through the chart's Envoy: ${last}\n${envoyLog.slice(-3000)}`);
      await sleep(100);
    }
    assert.ok(cp.ready(), "the control plane reports ready once Envoy took its table (/readyz)");
    const r = await fetch(`http://${cp.address}/readyz`);
    assert.equal(r.status, 200);
    await sleep(200);
    assert.match(envoyLog, /Request Handled \{.*"model":"\/models\/Qwen3-32B"/);

    // Termination: Envoy's preStop waits; the sidecar's preStop (the image's envoy-drain.js, run from
    // this checkout's build) drains Envoy and releases it; new connections are then refused.
    const envoyStop = ec.lifecycle.preStop.exec.command as string[];
    const waitScript = envoyStop[2]!.split(endpointsMount).join(envoyMap(endpointsMount));
    const envoyPreStop = spawn(envoyStop[0]!, [envoyStop[1]!, waitScript], { stdio: "ignore" });
    const envoyPreStopDone = new Promise<number | null>((res) => envoyPreStop.on("exit", (c) => res(c)));
    const drainCmd = (cpc.lifecycle.preStop.exec.command as string[]).map((a) =>
      a.startsWith("/app/") ? join(REPO, a.slice("/app/".length)) : a.startsWith(endpointsMount) ? mapper(cpc)(a) : a,
    );
    const pi = drainCmd.indexOf("--propagation");
    drainCmd[pi + 1] = "200ms"; // the test does not wait for load balancers that are not there
    const drain = spawn(drainCmd[0] === "node" ? process.execPath : drainCmd[0]!, drainCmd.slice(1), { stdio: "pipe" });
    let drainErr = "";
    drain.stderr!.on("data", (b: Buffer) => (drainErr += b.toString()));
    const drainCode = await new Promise<number | null>((res) => drain.on("exit", (c) => res(c)));
    assert.equal(drainCode, 0, drainErr);
    assert.equal(await envoyPreStopDone, 0, "Envoy's preStop ends once the drain is done");
    const ready = await fetch(`http://127.0.0.1:${port}/infergate/envoy-ready`).catch((e: Error) => e);
    assert.ok(ready instanceof Error || ready.status === 503, "Envoy's readiness fails after the drain");
  });
});
