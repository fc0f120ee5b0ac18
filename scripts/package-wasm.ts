// Packages build/infergate.wasm for Kubernetes (see scripts/lib/wasm-package.ts for the formats).
// Run through scripts/package-wasm.sh, which builds the module and this script first.
//
//   node build/js/scripts/package-wasm.js [--wasm build/infergate.wasm] [--out build/deploy]
//       [--name infergate-wasm] [--namespace NS] [--tag VERSION]
//
// Writes into --out:
//   infergate-wasm.configmap.yaml   ConfigMap (binaryData infergate.wasm) for the chart's wasm.source=configMap
//   infergate-wasm-oci/             OCI image layout: the wasm OCI artifact, tagged --tag
//   infergate-wasm-oci.tar          the same layout as one tarball
// and prints a JSON summary (the module's sha256, the manifest digest) on stdout.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { layoutTar, wasmConfigMap, wasmOciLayout, writeLayout } from "./lib/wasm-package.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export interface PackageResult {
  wasm: string;
  wasmBytes: number;
  wasmSha256: string;
  configMap: string;
  ociLayout: string;
  ociTar: string;
  tag: string;
  manifestDigest: string;
}

export function packageWasm(
  opts: { wasm?: string; out?: string; name?: string; namespace?: string; tag?: string } = {},
): PackageResult {
  const wasmPath = resolve(opts.wasm ?? join(REPO, "build/infergate.wasm"));
  const out = resolve(opts.out ?? join(REPO, "build/deploy"));
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
  const tag = opts.tag ?? pkg.version;
  const wasm = readFileSync(wasmPath);
  mkdirSync(out, { recursive: true });
  const configMap = join(out, "infergate-wasm.configmap.yaml");
  writeFileSync(configMap, wasmConfigMap(wasm, { name: opts.name ?? "infergate-wasm", namespace: opts.namespace }));
  const layout = wasmOciLayout(wasm, { tag, version: pkg.version });
  const ociLayout = join(out, "infergate-wasm-oci");
  writeLayout(layout, ociLayout);
  const ociTar = join(out, "infergate-wasm-oci.tar");
  writeFileSync(ociTar, layoutTar(layout));
  return {
    wasm: wasmPath,
    wasmBytes: wasm.length,
    wasmSha256: layout.wasmSha256,
    configMap,
    ociLayout,
    ociTar,
    tag,
    manifestDigest: layout.manifestDigest,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      allowPositionals: false,
      options: {
        wasm: { type: "string" },
        out: { type: "string" },
        name: { type: "string" },
        namespace: { type: "string" },
        tag: { type: "string" },
      },
    });
    const r = packageWasm(values);
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    process.stderr.write(
      `package-wasm: ${r.wasmBytes} bytes, sha256 ${r.wasmSha256}\n` +
        `  kubectl apply -n <namespace> -f ${r.configMap}      (chart: --set wasm.sha256=${r.wasmSha256})\n` +
        `  oras cp --from-oci-layout ${r.ociLayout}:${r.tag} <registry>/<repo>:${r.tag}   (manifest ${r.manifestDigest})\n`,
    );
  } catch (e) {
    process.stderr.write(`package-wasm: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
