{{/* Chart name, truncated to the 63 characters Kubernetes names allow. */}}
{{- define "petrel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name used for every object of the release. */}}
{{- define "petrel.fullname" -}}
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

{{- define "petrel.selectorLabels" -}}
app.kubernetes.io/name: {{ include "petrel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "petrel.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "petrel.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "petrel.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "petrel.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
What the controller does with each kind, and nothing more (src/kube/client.ts sends only get, list,
watch, create, merge or JSON patch, and delete; the controller never PUTs, so there is no update
except the finalizers one below). Every rule is listed with the code that needs it in
docs/operations.md ("Security"); test/rbac.test.ts fails when one is missing or unused, and
test/cluster/rbac-rollout.test.ts fails on a real API server when one is refused or never used:
- informers list and watch every kind they cache (src/controller/controller.ts);
- Canary: status patched by the reconciler, the manual-action annotation cleared by the executor;
- canaries/finalizers update: owned objects carry blockOwnerDeletion, which the
  OwnerReferencesPermissionEnforcement admission plugin allows only with this verb on the owner;
- primary Deployment, primary HPA, Services, DestinationRules, VirtualService and `<name>-primary`
  ConfigMaps are created and patched; the target's spec.replicas is patched;
- HTTPRoutes only with gatewayAPI.enabled=true (provider gatewayapi:v1): listed, watched, created and
  patched like the VirtualService;
- Events are created, and patched when one repeats.
Owned objects are removed by the garbage collector through their ownerReferences: no delete verb.
Secrets are here only with trackSecrets=true (listed and watched like ConfigMaps, `<name>-primary`
copies created and patched), so they follow the watched namespaces; `get` for secretRef is in
petrel.secretRules.
*/}}
{{- define "petrel.rules" -}}
- apiGroups: ["petrel.dev"]
  resources: ["canaries"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["petrel.dev"]
  resources: ["canaries/status"]
  verbs: ["patch"]
- apiGroups: ["petrel.dev"]
  resources: ["canaries/finalizers"]
  verbs: ["update"]
- apiGroups: ["petrel.dev"]
  resources: ["metrictemplates", "alertproviders", "releasefreezes"]
  verbs: ["list", "watch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["list", "watch", "create", "patch"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["services", "configmaps"]
  verbs: ["list", "watch", "create", "patch"]
{{- if .Values.trackSecrets }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["list", "watch", "create", "patch"]
{{- end }}
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices", "destinationrules"]
  verbs: ["list", "watch", "create", "patch"]
{{- if .Values.gatewayAPI.enabled }}
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["list", "watch", "create", "patch"]
{{- end }}
{{- end -}}

{{/*
`get` on Secrets, for the Secrets named by AlertProvider and MetricTemplate secretRef (read when an
alert is sent or a query runs, never cached, listed or watched).
*/}}
{{- define "petrel.secretRules" -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end -}}

{{/* Namespaces where rbac.secrets=namespaced grants get on Secrets: secretNamespaces, else watchNamespaces. */}}
{{- define "petrel.secretNamespaces" -}}
{{- $list := .Values.rbac.secretNamespaces | default .Values.watchNamespaces | default list -}}
{{- toJson $list -}}
{{- end -}}

{{/* The Lease the replicas elect a leader with lives in the release namespace. */}}
{{- define "petrel.leaseName" -}}
{{- printf "%s-leader" (include "petrel.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
trackSecrets lists and watches Secrets wherever the controller watches, so rbac.secrets must allow
Secret access there: not none, and cluster when every namespace is watched.
*/}}
{{- define "petrel.checkTrackSecrets" -}}
{{- if and .Values.trackSecrets .Values.rbac.create -}}
{{- if eq .Values.rbac.secrets "none" -}}
{{- fail "trackSecrets=true needs list, watch, create and patch on Secrets, which rbac.secrets=none forbids: set rbac.secrets=namespaced with watchNamespaces, or rbac.secrets=cluster, or trackSecrets=false" -}}
{{- end -}}
{{- if and (eq .Values.rbac.secrets "namespaced") (not .Values.watchNamespaces) -}}
{{- fail "trackSecrets=true with empty watchNamespaces lists and watches Secrets in every namespace, which rbac.secrets=namespaced does not grant: set watchNamespaces, or rbac.secrets=cluster" -}}
{{- end -}}
{{- end -}}
{{- end -}}
