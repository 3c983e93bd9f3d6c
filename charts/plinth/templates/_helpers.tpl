{{/* The image every component runs. */}}
{{- define "plinth.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Labels every object carries; pass (dict "root" $ "component" "name"). */}}
{{- define "plinth.labels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/part-of: plinth
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* The selector of a component's pods. */}}
{{- define "plinth.selector" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* The restricted pod security context every component runs with. */}}
{{- define "plinth.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "plinth.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Namespaces excluded from admission: the configured ones and the release's own. */}}
{{- define "plinth.excludedNamespaces" -}}
{{- $all := append (.Values.excludedNamespaces | default list) .Release.Namespace | uniq | sortAlpha -}}
{{- toJson $all -}}
{{- end -}}

{{/* A NetworkPolicy for one component: pass (dict "root" $ "component" "name"
     "port" N "ingressFromAnywhere" bool). */}}
{{- define "plinth.networkPolicy" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "plinth.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "plinth.selector" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
  {{- if .port }}
  - ports:
    - protocol: TCP
      port: {{ .port }}
    {{- if not .ingressFromAnywhere }}
    from:
    - namespaceSelector:
        {{- toYaml .root.Values.networkPolicies.metricsNamespaceSelector | nindent 8 }}
    {{- end }}
  {{- end }}
  egress:
  - ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
  - ports:
    {{- range .root.Values.networkPolicies.apiServerPorts }}
    - {protocol: TCP, port: {{ . }}}
    {{- end }}
{{- end -}}
