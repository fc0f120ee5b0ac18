// The seed's YAML, our CRDs and our RBAC against a real kube-apiserver (test/harness/kube.ts).
//
// Every YAML example of both seed pages (fixtures/seed-*.yaml) must be accepted by a server-side
// dry run once charts/infergate/crds/ is installed, through kubectl (`create` as the seed does, and
// `apply`) and through @kubernetes/client-node (dryRun=All, the control plane's client); invalid
// variants must be refused with the offending field named. The Gateway API documents
// (GatewayClass / Gateway / HTTPRoute) need the Gateway API CRDs, which scripts/get-kube.sh takes
// from the sigs.k8s.io/gateway-api Go module; without them those documents are skipped, saying so.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  ApiextensionsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  type KubernetesObject,
  KubernetesObjectApi,
} from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { CONTROL_PLANE_USER, gatewayApiCrdDir, type Kube, ourCrdFiles, startKube } from "../harness/kube.js";

const repo = REPO_ROOT;
const fixturesDir = join(repo, "test", "kube", "fixtures");
const rbacPath = join(repo, "charts", "infergate", "templates", "rbac.yaml");
const seedsDir = join(repo, "..", "shared", "seeds");

const fixtures = readdirSync(fixturesDir)
  .filter((f) => /^seed-.*\.yaml$/.test(f))
  .sort();
const GATEWAY_KINDS = new Set(["GatewayClass", "Gateway", "HTTPRoute"]);

function docs(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((d): d is KubernetesObject => d !== null);
}

function errorText(e: unknown): string {
  const x = e as { code?: number; body?: unknown; message?: string };
  return `${x.code ?? ""} ${typeof x.body === "string" ? x.body : JSON.stringify(x.body ?? "")} ${x.message ?? ""}`;
}

let kube: Kube;
let objects: KubernetesObjectApi;
let gatewayApi = false;

/** A fresh client each time: KubernetesObjectApi caches discovery, and CRDs are added during the run. */
function objectApi(): KubernetesObjectApi {
  return KubernetesObjectApi.makeApiClient(kube.kubeConfig);
}

async function dryRunCreate(obj: KubernetesObject): Promise<KubernetesObject> {
  return objects.create(obj, undefined, "All", "infergate-test");
}

describe("seed manifests against a real kube-apiserver", { timeout: 240_000 }, () => {
  before(async () => {
    const t0 = Date.now();
    kube = await startKube();
    console.log(`# kube-apiserver ready in ${kube.apiServerStartMs} ms (etcd + apiserver: ${Date.now() - t0} ms)`);
    const names = await kube.installCrds(ourCrdFiles());
    console.log(`# installed and Established: ${names.join(", ")}`);
    const gw = gatewayApiCrdDir();
    if (gw) {
      const wanted = ["gatewayclasses", "gateways", "httproutes"].map((r) =>
        join(gw, `gateway.networking.k8s.io_${r}.yaml`),
      );
      if (wanted.every((p) => existsSync(p))) {
        await kube.installCrds(wanted);
        gatewayApi = true;
        console.log(`# Gateway API CRDs from ${gw}`);
      }
    }
    objects = objectApi();
  });

  after(async () => {
    await kube?.stop();
  });

  test("fixtures are the seed pages’ YAML, verbatim", (t) => {
    if (!existsSync(seedsDir)) {
      t.skip(`no seeds at ${seedsDir}`);
      return;
    }
    const seeds = readdirSync(seedsDir).filter((f) => f.endsWith(".txt"));
    const page = (prefix: string) => readFileSync(join(seedsDir, seeds.find((f) => f.startsWith(prefix))!), "utf8");
    const p000 = page("000_");
    const p004 = page("004_").replace(/\s+/g, "");
    assert.equal(fixtures.filter((f) => f.startsWith("seed-000-")).length, 11);
    assert.equal(fixtures.filter((f) => f.startsWith("seed-004-")).length, 2);
    for (const f of fixtures) {
      const text = readFileSync(join(fixturesDir, f), "utf8");
      if (f.startsWith("seed-000-")) {
        assert.ok(p000.includes(text.trimEnd()), `${f} is not a verbatim slice of the 000 seed page`);
      } else {
        // The 004 page lost its line structure; compare with all whitespace removed, per document.
        for (const part of text.split(/^---$/m)) {
          assert.ok(p004.includes(part.replace(/\s+/g, "")), `${f} differs from the 004 seed page beyond whitespace`);
        }
      }
    }
    // Every apiVersion line of page 000 is in some fixture.
    const inFixtures = fixtures
      .filter((f) => f.startsWith("seed-000-"))
      .map((f) => readFileSync(join(fixturesDir, f), "utf8"))
      .join("\n");
    const count = (s: string) => (s.match(/^apiVersion:/gm) ?? []).length;
    assert.equal(count(inFixtures), count(p000), "a YAML document of the 000 page has no fixture");
  });

  test("our CRDs are served with their schemas", async () => {
    const ext = kube.kubeConfig.makeApiClient(ApiextensionsV1Api);
    const expect: Array<[string, string]> = [
      ["inferencepools.inference.networking.x-k8s.io", "v1alpha2"],
      ["inferencemodels.inference.networking.x-k8s.io", "v1alpha2"],
      ["inferencepools.inference.networking.k8s.io", "v1"],
      ["inferencetrafficpolicies.inferenceextension.alibabacloud.com", "v1alpha1"],
    ];
    for (const [name, version] of expect) {
      const crd = await ext.readCustomResourceDefinition({ name });
      const v = crd.spec.versions.find((x) => x.name === version);
      assert.ok(v?.served && v.storage, `${name} serves ${version}`);
      assert.ok(v.schema?.openAPIV3Schema?.properties?.spec, `${name} has a spec schema`);
      assert.deepEqual(v.subresources?.status, {}, `${name} has a status subresource`);
      const conds = crd.status?.conditions ?? [];
      assert.equal(conds.find((c) => c.type === "NamesAccepted")?.status, "True", `${name} names accepted`);
    }
  });

  test("kubectl apply of charts/infergate/crds/ (as a user installs them) is accepted", async (t) => {
    if (!kube.hasKubectl) {
      t.skip("kubectl not built");
      return;
    }
    const r = await kube.kubectl(["apply", "--dry-run=server", "-f", join(repo, "charts", "infergate", "crds")]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split("\n").length, ourCrdFiles().length, r.stdout);
  });

  for (const f of fixtures) {
    test(`server-side dry run accepts ${f}`, async (t) => {
      const text = readFileSync(join(fixturesDir, f), "utf8");
      const all = docs(text);
      if (all.some((d) => GATEWAY_KINDS.has(d.kind ?? "")) && !gatewayApi) {
        t.skip(
          "Gateway API CRDs not available (scripts/get-kube.sh fetches them from the sigs.k8s.io/gateway-api module)",
        );
        return;
      }
      if (kube.hasKubectl) {
        // As the seed says: kubectl create -f <file>; and apply, the usual way to update.
        for (const verb of ["create", "apply"]) {
          const r = await kube.kubectl([verb, "--dry-run=server", "-f", "-", "-o", "name"], text);
          assert.equal(r.code, 0, `kubectl ${verb} --dry-run=server ${f}: ${r.stderr}`);
          assert.equal(r.stderr, "", `kubectl ${verb} ${f}: no warnings`);
          assert.equal(
            r.stdout.trim().split("\n").length,
            all.length,
            `kubectl ${verb}: one line per document: ${r.stdout}`,
          );
        }
      }
      // The control plane's client, same server path (dryRun=All).
      for (const d of all) {
        const out = await dryRunCreate(d).catch((e: unknown) => assert.fail(`${f} ${d.kind}: ${errorText(e)}`));
        assert.equal(out.metadata?.name, d.metadata?.name);
        assert.ok(out.metadata?.uid, "dry run returned the object as stored");
      }
    });
  }

  test("defaults from the schemas are filled in", async () => {
    const [pool, model] = docs(readFileSync(join(fixturesDir, "seed-000-default-single-vllm.yaml"), "utf8"));
    const p = (await dryRunCreate(pool!)) as KubernetesObject & { spec: { extensionRef: Record<string, unknown> } };
    assert.deepEqual(p.spec.extensionRef, {
      group: "",
      kind: "Service",
      name: "inference-gateway-ext-proc",
      failureMode: "FailClose",
    });
    const m = (await dryRunCreate(model!)) as KubernetesObject & { spec: { poolRef: Record<string, unknown> } };
    assert.deepEqual(m.spec.poolRef, {
      group: "inference.networking.x-k8s.io",
      kind: "InferencePool",
      name: "qwen-inference-pool",
    });
  });

  test("the v1 InferencePool (inference.networking.k8s.io) is accepted", async () => {
    const v1: KubernetesObject = {
      apiVersion: "inference.networking.k8s.io/v1",
      kind: "InferencePool",
      metadata: { name: "qwen-v1-pool", namespace: "default" },
      spec: {
        selector: { matchLabels: { "alibabacloud.com/inference-workload": "vllm-inference" } },
        targetPorts: [{ number: 8000 }],
        endpointPickerRef: { name: "inference-gateway-ext-proc", portNumber: 9002 },
      },
    } as KubernetesObject;
    const out = (await dryRunCreate(v1)) as KubernetesObject & { spec: { endpointPickerRef: Record<string, unknown> } };
    assert.equal(out.spec.endpointPickerRef.failureMode, "FailClose");
  });

  test("GIE v1.5 InferenceObjective and InferenceModelRewrite are accepted with upstream's defaults; bad ones refused", async () => {
    // The shapes of GIE v1.5.0's migration guide (site-src/guides/ga-migration.md) and CRDs.
    const objective = {
      apiVersion: "inference.networking.x-k8s.io/v1alpha2",
      kind: "InferenceObjective",
      metadata: { name: "small-segment-lora", namespace: "default" },
      spec: { priority: 1, poolRef: { group: "inference.networking.k8s.io", name: "vllm-qwen3-32b-ga" } },
    } as KubernetesObject;
    const o = (await dryRunCreate(objective)) as any;
    assert.deepEqual(o.spec.poolRef, {
      group: "inference.networking.k8s.io",
      kind: "InferencePool",
      name: "vllm-qwen3-32b-ga",
    });
    const rewrite = {
      apiVersion: "inference.networking.x-k8s.io/v1alpha2",
      kind: "InferenceModelRewrite",
      metadata: { name: "canary", namespace: "default" },
      spec: {
        poolRef: { name: "vllm-qwen3-32b-ga" },
        rules: [
          {
            matches: [{ model: { value: "food-review" } }],
            targets: [
              { modelRewrite: "food-review-v1", weight: 90 },
              { modelRewrite: "food-review-v2", weight: 10 },
            ],
          },
        ],
      },
    } as any;
    const r = (await dryRunCreate(rewrite)) as any;
    assert.equal(r.spec.rules[0].matches[0].model.type, "Exact");
    assert.equal(r.spec.poolRef.group, "inference.networking.k8s.io");
    const refused = async (obj: any, expect: RegExp) => {
      const e = await dryRunCreate(obj).then(
        () => assert.fail(`accepted: ${JSON.stringify(obj.spec)}`),
        (err: unknown) => err,
      );
      assert.equal((e as { code?: number }).code, 422, errorText(e));
      assert.match(errorText(e), expect);
    };
    await refused(
      { ...rewrite, spec: { ...rewrite.spec, rules: [{ targets: [{ modelRewrite: "x", weight: 0 }] }] } },
      /weight.*greater than or equal to 1/,
    );
    await refused(
      { ...rewrite, spec: { ...rewrite.spec, rules: [{ matches: [{ model: { type: "Prefix", value: "x" } }] }] } },
      /model\.type.*Unsupported value/,
    );
    await refused({ ...objective, spec: { priority: 1 } }, /spec\.poolRef.*Required/);
  });

  // Each: a seed fixture, a mutation, and a piece of the error the server must give.
  const invalid: Array<{ name: string; fixture: string; index: number; mutate: (o: any) => void; expect: RegExp }> = [
    {
      name: "criticality: Bogus",
      fixture: "seed-000-default-single-vllm.yaml",
      index: 1,
      mutate: (o) => (o.spec.criticality = "Bogus"),
      expect: /spec\.criticality.*Unsupported value/,
    },
    {
      name: 'targetPortNumber: "abc"',
      fixture: "seed-000-default-single-vllm.yaml",
      index: 0,
      mutate: (o) => (o.spec.targetPortNumber = "abc"),
      expect: /spec\.targetPortNumber.*integer/,
    },
    {
      name: "targetPortNumber: 0",
      fixture: "seed-000-default-single-vllm.yaml",
      index: 0,
      mutate: (o) => (o.spec.targetPortNumber = 0),
      expect: /spec\.targetPortNumber.*greater than or equal to 1/,
    },
    {
      name: "targetPortNumber: 70000",
      fixture: "seed-000-default-single-vllm.yaml",
      index: 0,
      mutate: (o) => (o.spec.targetPortNumber = 70000),
      expect: /spec\.targetPortNumber.*less than or equal to 65535/,
    },
    {
      name: "no selector",
      fixture: "seed-000-default-single-vllm.yaml",
      index: 0,
      mutate: (o) => delete o.spec.selector,
      expect: /spec\.selector.*Required/,
    },
    {
      name: "selector key with a space",
      fixture: "seed-000-default-single-vllm.yaml",
      index: 0,
      mutate: (o) => (o.spec.selector = { "bad key": "x" }),
      expect: /spec\.selector.*label key/,
    },
    {
      name: "selector value too long",
      fixture: "seed-000-default-single-vllm.yaml",
      index: 0,
      mutate: (o) => (o.spec.selector = { app: "x".repeat(64) }),
      expect: /spec\.selector\.app/,
    },
    {
      name: "extensionRef.failureMode: Sometimes",
      fixture: "seed-000-default-single-vllm.yaml",
      index: 0,
      mutate: (o) => (o.spec.extensionRef.failureMode = "Sometimes"),
      expect: /failureMode.*Unsupported value/,
    },
    {
      name: "extensionRef without name",
      fixture: "seed-004-epp-overlay.yaml",
      index: 1,
      mutate: (o) => delete o.spec.extensionRef.name,
      expect: /spec\.extensionRef\.name.*Required/,
    },
    {
      name: "no modelName",
      fixture: "seed-000-default-single-vllm.yaml",
      index: 1,
      mutate: (o) => delete o.spec.modelName,
      expect: /spec\.modelName.*Required/,
    },
    {
      name: "no poolRef",
      fixture: "seed-000-default-single-vllm.yaml",
      index: 1,
      mutate: (o) => delete o.spec.poolRef,
      expect: /spec\.poolRef.*Required/,
    },
    {
      name: "weight on some target models only",
      fixture: "seed-000-default-single-vllm.yaml",
      index: 1,
      mutate: (o) => o.spec.targetModels.push({ name: "lora-a" }),
      expect: /weight on every target model, or on none/,
    },
    {
      name: "weight: -1",
      fixture: "seed-000-default-single-vllm.yaml",
      index: 1,
      mutate: (o) => (o.spec.targetModels[0].weight = -1),
      expect: /weight.*greater than or equal to 0/,
    },
    {
      name: "modelServerRuntime: tgi",
      fixture: "seed-000-pd-sglang.yaml",
      index: 1,
      mutate: (o) => (o.spec.modelServerRuntime = "tgi"),
      expect: /spec\.modelServerRuntime.*Unsupported value/,
    },
    {
      name: "bootstrapPort: 70000",
      fixture: "seed-000-pd-sglang.yaml",
      index: 1,
      mutate: (o) => (o.spec.profile.pd.kvTransfer.bootstrapPort = 70000),
      expect: /bootstrapPort.*less than or equal to 65535/,
    },
    {
      name: "policy poolRef without name",
      fixture: "seed-000-pd-sglang.yaml",
      index: 1,
      mutate: (o) => (o.spec.poolRef = {}),
      expect: /spec\.poolRef\.name.*Required/,
    },
    {
      name: "prefillPolicyRef: prefixCache without a prefixCache policy",
      fixture: "seed-000-pd-prefix-cache-sglang.yaml",
      index: 1,
      mutate: (o) => delete o.spec.profile.pd.trafficPolicy,
      expect: /prefillPolicyRef names prefixCache/,
    },
    {
      name: "two profiles at once",
      fixture: "seed-000-pd-sglang.yaml",
      index: 1,
      mutate: (o) => (o.spec.profile.single = {}),
      expect: /spec\.profile.*(must have at most 1|Too many)/,
    },
  ];

  for (const c of invalid) {
    test(`server refuses ${c.name}`, async () => {
      const obj = docs(readFileSync(join(fixturesDir, c.fixture), "utf8"))[c.index]!;
      c.mutate(obj);
      const e = await dryRunCreate(obj).then(
        () => assert.fail(`accepted: ${JSON.stringify((obj as { spec?: unknown }).spec ?? obj)}`),
        (err: unknown) => err,
      );
      assert.equal((e as { code?: number }).code, 422, errorText(e));
      assert.match(errorText(e), c.expect);
      if (kube.hasKubectl) {
        const r = await kube.kubectl(["apply", "--dry-run=server", "-f", "-"], JSON.stringify(obj));
        assert.notEqual(r.code, 0, `kubectl accepted ${c.name}`);
        assert.match(r.stderr, c.expect);
      }
    });
  }

  test("RBAC: the control plane may read the inference and Gateway API kinds, pods, configmaps, services, namespaces, write status and events, nothing more", async () => {
    const core = kube.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "infergate-system" } } });
    if (kube.hasKubectl) {
      const r = await kube.kubectl(["apply", "-f", rbacPath]);
      assert.equal(r.code, 0, r.stderr);
    } else {
      const api = objectApi();
      for (const d of docs(readFileSync(rbacPath, "utf8"))) await api.create(d);
    }
    const authz = kube.kubeConfigFor(kube.controlPlaneToken, CONTROL_PLANE_USER).makeApiClient(AuthorizationV1Api);
    const can = async (verb: string, group: string, resource: string, subresource = "", namespace = "default") => {
      const r = await authz.createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { verb, group, resource, subresource, namespace } } },
      });
      return r.status?.allowed === true;
    };
    const allowed: Array<[string, string, string, string?]> = [];
    for (const verb of ["get", "list", "watch"]) {
      allowed.push([verb, "inference.networking.x-k8s.io", "inferencepools"]);
      allowed.push([verb, "inference.networking.x-k8s.io", "inferencemodels"]);
      allowed.push([verb, "inference.networking.k8s.io", "inferencepools"]);
      allowed.push([verb, "inferenceextension.alibabacloud.com", "inferencetrafficpolicies"]);
      allowed.push([verb, "inference.networking.x-k8s.io", "inferenceobjectives"]);
      allowed.push([verb, "inference.networking.x-k8s.io", "inferencemodelrewrites"]);
      allowed.push([verb, "", "pods"]);
      allowed.push([verb, "", "configmaps"]);
      // The Gateway API controller: its own Service (address, ports) and namespaces' labels.
      allowed.push([verb, "", "services"]);
      allowed.push([verb, "", "namespaces"]);
      for (const r of ["gatewayclasses", "gateways", "httproutes", "referencegrants"])
        allowed.push([verb, "gateway.networking.k8s.io", r]);
    }
    for (const r of ["gatewayclasses", "gateways", "httproutes"])
      allowed.push(["patch", "gateway.networking.k8s.io", r, "status"]);
    allowed.push(["patch", "inference.networking.x-k8s.io", "inferencepools", "status"]);
    allowed.push(["patch", "inference.networking.x-k8s.io", "inferencemodels", "status"]);
    allowed.push(["patch", "inference.networking.k8s.io", "inferencepools", "status"]);
    allowed.push(["patch", "inferenceextension.alibabacloud.com", "inferencetrafficpolicies", "status"]);
    allowed.push(["create", "", "events"], ["patch", "", "events"], ["create", "events.k8s.io", "events"]);
    const denied: Array<[string, string, string, string?]> = [
      ["create", "inference.networking.x-k8s.io", "inferencepools"],
      ["update", "inference.networking.x-k8s.io", "inferencemodels"],
      ["delete", "", "pods"],
      ["patch", "", "pods"],
      ["update", "", "configmaps"],
      ["get", "", "secrets"],
      ["patch", "", "services"],
      ["update", "", "namespaces"],
      ["update", "gateway.networking.k8s.io", "gateways"],
      ["patch", "gateway.networking.k8s.io", "httproutes"],
      ["create", "gateway.networking.k8s.io", "referencegrants"],
      ["patch", "gateway.networking.k8s.io", "referencegrants", "status"],
    ];
    // The RBAC authorizer sees new bindings through its informers: give it a moment.
    const deadline = Date.now() + 15_000;
    while (!(await can("list", "", "pods")) && Date.now() < deadline) await sleep(100);
    for (const [verb, group, resource, sub] of allowed) {
      assert.ok(
        await can(verb, group, resource, sub),
        `${CONTROL_PLANE_USER} may ${verb} ${group}/${resource}${sub ? `/${sub}` : ""}`,
      );
    }
    for (const [verb, group, resource, sub] of denied) {
      assert.ok(
        !(await can(verb, group, resource, sub)),
        `${CONTROL_PLANE_USER} may not ${verb} ${group}/${resource}${sub ? `/${sub}` : ""}`,
      );
    }
    // And for real: list across namespaces with the control plane's own token.
    const cpCore = kube.kubeConfigFor(kube.controlPlaneToken, CONTROL_PLANE_USER).makeApiClient(CoreV1Api);
    await cpCore.listPodForAllNamespaces();
    await cpCore.listConfigMapForAllNamespaces();
    await assert.rejects(cpCore.listSecretForAllNamespaces(), (e: { code?: number }) => e.code === 403);
  });
});
