{{/* Names and labels. */}}
{{- define "infergate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "infergate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "infergate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "infergate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "infergate.labels" -}}
{{ include "infergate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "infergate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "infergate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "infergate.clusterRoleName" -}}
{{- printf "%s-controlplane" (include "infergate.fullname" .) -}}
{{- end -}}

{{- define "infergate.tokenSecretName" -}}
{{- default (printf "%s-token" (include "infergate.fullname" .)) .Values.token.existingSecret -}}
{{- end -}}

{{- define "infergate.tokenSecretKey" -}}
{{- if .Values.token.existingSecret -}}{{ .Values.token.existingSecretKey }}{{- else -}}token{{- end -}}
{{- end -}}

{{- define "infergate.wasmConfigMapName" -}}
{{- default (printf "%s-wasm" (include "infergate.fullname" .)) .Values.wasm.configMap.name -}}
{{- end -}}

{{- define "infergate.watchNamespace" -}}
{{- default .Release.Namespace .Values.controlPlane.watchNamespace -}}
{{- end -}}

{{/* Where things are mounted in the Pod (the real-Envoy test maps these paths to local ones). */}}
{{- define "infergate.paths" -}}
bootstrapTemplateDir: /etc/infergate/bootstrap
bootstrapDir: /etc/infergate/envoy
tokenDir: /var/run/infergate
wasmDir: /etc/infergate/wasm
endpointsDir: /var/lib/infergate/endpoints
{{- end -}}

{{/* Placeholder for the token in the bootstrap ConfigMap; the init container substitutes it. */}}
{{- define "infergate.tokenPlaceholder" -}}@@INFERGATE_CONTROL_TOKEN@@{{- end -}}

{{/*
The Envoy bootstrap: envoy/bootstrap.yaml (files/envoy-bootstrap.yaml is a symlink to it, so the
chart and local runs share one file), its double-braced NAMEs filled the way
scripts/lib/envoy-process.ts fills them for local runs. Everything but the token: that stays a
placeholder here (a ConfigMap is no place for it) and is filled from the Secret at Pod start.
*/}}
{{- define "infergate.bootstrap" -}}
{{- $paths := include "infergate.paths" . | fromYaml -}}
{{- /* handledLog: the bootstrap's access log prints the Request Handled lines (assembly/gateway/handled-log.ts). */ -}}
{{- $gateway := merge (dict "mode" "gateway" "maxBodyBytes" (int .Values.envoy.maxBodyBytes)) (deepCopy .Values.envoy.gatewayConfig) (dict "handledLog" "access-log") -}}
{{- $_ := set $gateway "mode" "gateway" -}}
{{- $control := dict "mode" "control" "token" (include "infergate.tokenPlaceholder" .) -}}
{{- $vars := dict
  "INSTANCE" (include "infergate.fullname" .)
  "ADMIN_PORT" (toString (int .Values.envoy.adminPort))
  "PORT" (toString (int .Values.envoy.port))
  "LISTEN_ADDRESS" .Values.envoy.listenAddress
  "CONTROL_PORT" (toString (int .Values.envoy.controlPort))
  "BUFFER_LIMIT" (toString (add (mul (int .Values.envoy.maxBodyBytes) 2) 65536))
  "ENDPOINTS_DIR" $paths.endpointsDir
  "MAX_HEAP_BYTES" (toString (int64 .Values.envoy.maxHeapBytes))
  "WASM_PATH" (printf "%s/infergate.wasm" $paths.wasmDir)
  "GATEWAY_CONFIG" ($gateway | toJson | replace "'" "''")
  "CONTROL_CONFIG" ($control | toJson | replace "'" "''")
-}}
{{- $text := .Files.Get "files/envoy-bootstrap.yaml" -}}
{{- if not $text -}}{{- fail "files/envoy-bootstrap.yaml is missing or empty (it is a symlink to envoy/bootstrap.yaml)" -}}{{- end -}}
{{- range $k, $v := $vars -}}
{{- $text = replace (printf "{{%s}}" $k) $v $text -}}
{{- end -}}
{{- if regexMatch "\\{\\{[A-Z_]+\\}\\}" $text -}}
{{- fail (printf "envoy bootstrap: no value for %s" (regexFind "\\{\\{[A-Z_]+\\}\\}" $text)) -}}
{{- end -}}
{{- $text -}}
{{- end -}}

{{/* Seconds a Pod may take to stop: the drain (see values: drain) plus 10 s. */}}
{{- define "infergate.terminationGracePeriodSeconds" -}}
{{- add (int .Values.drain.propagationSeconds) (int .Values.drain.drainSeconds) (int .Values.drain.maxStreamSeconds) 10 -}}
{{- end -}}
