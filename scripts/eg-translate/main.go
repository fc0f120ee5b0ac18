//go:build ignore

// infergate's offline Envoy Gateway translation: runs Envoy Gateway's own Gateway API -> IR -> xDS
// translators (the code its controller runs) on a set of manifests, with no cluster and no
// controller, and prints the objects' statuses and the xDS as JSON. test/kube/envoy-gateway.test.ts
// feeds it charts/infergate/envoy-gateway/ and then runs the resulting xDS in real Envoy.
//
// Why not `egctl x translate`: egctl passes no Wasm cache, so every Wasm extension fails with "wasm
// cache is not initialized", and it discards the translators' logs (where a failed JSON patch says
// why). This file is our code, written against Envoy Gateway's internal packages, so Go only builds
// it from inside a copy of the module github.com/envoyproxy/gateway: scripts/get-eg-translate.sh
// copies it there as cmd/infergate-translate/main.go. The build tag keeps any other Go tooling away.
//
// What it sets up the way Envoy Gateway's runners do (internal/gatewayapi/runner, internal/xds/runner),
// for an install with extensionApis.enableEnvoyPatchPolicy=true and nothing else (the README's):
//   - EnvoyPatchPolicy enabled; no global rate limit, no Backend API, no extension manager;
//   - a Wasm cache stub: Envoy Gateway's real cache pulls the image and serves it over its own HTTP
//     server; the stub answers with a URL of that server's form and the sha256 of -wasm (our build),
//     so the generated remote code source names the checksum of the module the test runs;
//   - the translators' logs go to stderr.
// What it adds: every JSON patch of every EnvoyPatchPolicy is also applied as a policy of its own (in
// order, on a copy of the IR), so each patch gets its own status ("perPatchStatuses"); the xDS
// printed is the one of the real run, all patches of a policy together, as Envoy Gateway does.
//
// Also: eg-translate -normalize bootstrap.yaml prints an Envoy bootstrap as protojson, the way the
// xDS is printed, for comparing our own configuration's pieces with Envoy Gateway's.
//
// Usage: eg-translate -f manifests.yaml [-wasm module.wasm] [-n envoy-gateway-system] > out.json
// Output: {"statuses": [{kind, namespace, name, status}], "gateways": {"<ns>/<gateway>": {
//   "envoyPatchPolicyStatuses", "perPatchStatuses", "xds": {listeners, routes, clusters, secrets}}},
//   "bootstrap": the Envoys' bootstrap, Envoy Gateway's default with the EnvoyProxy's applied}
// (xDS in protojson with proto field names, as Envoy's YAML/JSON config reads it).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	sigyaml "sigs.k8s.io/yaml"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"github.com/envoyproxy/gateway/internal/gatewayapi"
	"github.com/envoyproxy/gateway/internal/gatewayapi/resource"
	"github.com/envoyproxy/gateway/internal/ir"
	"github.com/envoyproxy/gateway/internal/logging"
	"github.com/envoyproxy/gateway/internal/wasm"
	"github.com/envoyproxy/gateway/internal/xds/bootstrap"
	"github.com/envoyproxy/gateway/internal/xds/translator"
)

// stubWasmCache stands in for Envoy Gateway's image cache (internal/wasm): no pull, a URL on Envoy
// Gateway's Wasm HTTP server (port 18002, the file named by the base64 of a hash) and our checksum.
type stubWasmCache struct{ ns, checksum string }

func (c *stubWasmCache) Get(downloadURL string, opts *wasm.GetOptions) (string, string, error) {
	h := sha256.Sum256([]byte(downloadURL))
	url := fmt.Sprintf("http://envoy-gateway.%s.svc.cluster.local:18002/%s.wasm", c.ns, base64.URLEncoding.EncodeToString(h[:]))
	fmt.Fprintf(os.Stderr, "eg-translate: wasm %q (%s) served as %s, sha256 %s\n", downloadURL, opts.ResourceName, url, c.checksum)
	return url, c.checksum, nil
}

func (c *stubWasmCache) Start(context.Context) {}

type objStatus struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    any    `json:"status"`
}

func main() {
	var inFile, wasmFile, ns string
	flag.StringVar(&inFile, "f", "", "manifests (multi-document YAML)")
	flag.StringVar(&wasmFile, "wasm", "", "the module whose sha256 the Wasm cache stub reports")
	flag.StringVar(&ns, "n", "envoy-gateway-system", "Envoy Gateway's namespace")
	var normalize string
	flag.StringVar(&normalize, "normalize", "", "print this Envoy bootstrap (YAML) as protojson, as the xDS is printed, and exit")
	flag.Parse()
	if normalize != "" {
		// So that a test can compare our own bootstrap's pieces with the xDS field by field: the same
		// proto, the same printer (defaults left out, durations and enums spelled one way). Strict:
		// an unknown field is an error here, as in Envoy.
		y, err := os.ReadFile(normalize)
		must(err)
		j, err := sigyaml.YAMLToJSON(y)
		must(err)
		b := &bootstrapv3.Bootstrap{}
		must(protojson.Unmarshal(j, b))
		out, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(b)
		must(err)
		_, err = os.Stdout.Write(out)
		must(err)
		return
	}
	if inFile == "" {
		fail(fmt.Errorf("-f is required"))
	}
	in, err := os.ReadFile(inFile)
	must(err)
	resources, err := resource.LoadResourcesFromYAMLBytes(in, true, nil)
	must(err)
	if resources.GatewayClass == nil {
		fail(fmt.Errorf("%s has no GatewayClass", inFile))
	}
	checksum := ""
	if wasmFile != "" {
		b, err := os.ReadFile(wasmFile)
		must(err)
		s := sha256.Sum256(b)
		checksum = hex.EncodeToString(s[:])
	}

	logger := logging.DefaultLogger(os.Stderr, egv1a1.LogLevelInfo)
	gt := &gatewayapi.Translator{
		GatewayControllerName:   string(resources.GatewayClass.Spec.ControllerName),
		GatewayClassName:        gwapiv1.ObjectName(resources.GatewayClass.Name),
		EnvoyPatchPolicyEnabled: true,
		ControllerNamespace:     ns,
		MergeGateways:           gatewayapi.IsMergeGatewaysEnabled(resources),
		WasmCache:               &stubWasmCache{ns: ns, checksum: checksum},
		Logger:                  logger,
	}
	// An error here is also reported in the statuses (the controller logs it and goes on).
	res, err := gt.Translate(context.Background(), resources)
	if err != nil {
		fmt.Fprintf(os.Stderr, "eg-translate: gateway-api translation: %v\n", err)
	}
	if res == nil {
		fail(fmt.Errorf("no translation result"))
	}

	var st []objStatus
	add := func(kind, namespace, name string, status any) {
		st = append(st, objStatus{kind, namespace, name, toJSON(status)})
	}
	if res.GatewayClass != nil {
		add("GatewayClass", "", res.GatewayClass.Name, res.GatewayClass.Status)
	}
	if ep := res.EnvoyProxyForGatewayClass; ep != nil {
		add("EnvoyProxy", ep.Namespace, ep.Name, ep.Status)
	}
	for _, ep := range res.EnvoyProxiesForGateways {
		add("EnvoyProxy", ep.Namespace, ep.Name, ep.Status)
	}
	for _, o := range res.Gateways {
		add("Gateway", o.Namespace, o.Name, o.Status)
	}
	for _, o := range res.HTTPRoutes {
		add("HTTPRoute", o.Namespace, o.Name, o.Status)
	}
	for _, o := range res.GRPCRoutes {
		add("GRPCRoute", o.Namespace, o.Name, o.Status)
	}
	for _, o := range res.ClientTrafficPolicies {
		add("ClientTrafficPolicy", o.Namespace, o.Name, o.Status)
	}
	for _, o := range res.BackendTrafficPolicies {
		add("BackendTrafficPolicy", o.Namespace, o.Name, o.Status)
	}
	for _, o := range res.SecurityPolicies {
		add("SecurityPolicy", o.Namespace, o.Name, o.Status)
	}
	for _, o := range res.EnvoyExtensionPolicies {
		add("EnvoyExtensionPolicy", o.Namespace, o.Name, o.Status)
	}
	// Accepted only: Programmed is the xDS translation's, below.
	for _, o := range res.EnvoyPatchPolicies {
		add("EnvoyPatchPolicy", o.Namespace, o.Name, o.Status)
	}

	keys := make([]string, 0, len(res.XdsIR))
	for k := range res.XdsIR {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	gateways := map[string]any{}
	for _, key := range keys {
		xir := res.XdsIR[key]
		entry := map[string]any{}
		// The real run: Envoy Gateway's xDS, every policy's patches together.
		tables, err := xdsTranslate(ns, xir.DeepCopy(), logger)
		if err != nil {
			entry["translateError"] = err.Error()
			fmt.Fprintf(os.Stderr, "eg-translate: xds translation of %s: %v\n", key, err)
		}
		if tables != nil {
			entry["xds"] = tables.xds
			entry["envoyPatchPolicyStatuses"] = tables.patchStatuses
		}
		// Each patch on its own: policy "<name>#<i>", in the policy's order.
		split := xir.DeepCopy()
		var one []*ir.EnvoyPatchPolicy
		for _, p := range split.EnvoyPatchPolicies {
			for i, jp := range p.JSONPatches {
				np := &ir.EnvoyPatchPolicy{EnvoyPatchPolicyStatus: *p.EnvoyPatchPolicyStatus.DeepCopy(), JSONPatches: []*ir.JSONPatchConfig{jp}}
				np.Name = fmt.Sprintf("%s#%d", p.Name, i)
				one = append(one, np)
			}
		}
		split.EnvoyPatchPolicies = one
		if t, _ := xdsTranslate(ns, split, logger); t != nil {
			entry["perPatchStatuses"] = t.patchStatuses
		}
		gateways[key] = entry
	}

	// The Envoys' bootstrap as Envoy Gateway writes it for this EnvoyProxy: its default, with the
	// EnvoyProxy's bootstrap (Merge, Replace or JSONPatch) applied (the translator validated it
	// above: an invalid one leaves the EnvoyProxy not Accepted). What the xDS cannot carry
	// (bootstrap_extensions, e.g. internal listeners) is only here.
	boot, err := bootstrap.GetRenderedBootstrapConfig(nil)
	must(err)
	if ep := res.EnvoyProxyForGatewayClass; ep != nil && ep.Spec.Bootstrap != nil {
		boot, err = bootstrap.ApplyBootstrapConfig(ep.Spec.Bootstrap, boot)
		must(err)
	}
	bootJSON, err := sigyaml.YAMLToJSON([]byte(boot))
	must(err)

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	must(enc.Encode(map[string]any{"statuses": st, "gateways": gateways, "bootstrap": json.RawMessage(bootJSON)}))
}

type xdsTables struct {
	xds           map[string][]any
	patchStatuses any
}

// xdsTranslate is internal/xds/runner's translation (FilterOrder from the IR, default runtime flags,
// no rate limit service), its resources as protojson.
func xdsTranslate(ns string, xir *ir.Xds, logger logging.Logger) (*xdsTables, error) {
	t := &translator.Translator{ControllerNamespace: ns, FilterOrder: xir.FilterOrder, Logger: logger}
	tCtx, err := t.Translate(context.Background(), xir)
	if tCtx == nil {
		return nil, err
	}
	out := map[string][]any{}
	for typ, name := range map[string]string{
		resourcev3.ListenerType: "listeners", resourcev3.RouteType: "routes",
		resourcev3.ClusterType: "clusters", resourcev3.EndpointType: "endpoints",
		resourcev3.SecretType: "secrets",
	} {
		out[name] = []any{}
		for _, r := range tCtx.XdsResources[typ] {
			b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(r.(proto.Message))
			must(err)
			var v any
			must(json.Unmarshal(b, &v))
			out[name] = append(out[name], v)
		}
	}
	return &xdsTables{xds: out, patchStatuses: toJSON(tCtx.EnvoyPatchPolicyStatuses)}, err
}

func toJSON(v any) any {
	b, err := json.Marshal(v)
	must(err)
	var r any
	must(json.Unmarshal(b, &r))
	return r
}

func must(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "eg-translate:", err)
	os.Exit(1)
}
