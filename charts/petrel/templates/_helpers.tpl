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
What the controller does with each kind, and nothing more: it reads its own resources and the targets,
writes Canary status, creates and patches the objects it owns (primary Deployment, Services,
DestinationRules, VirtualService, primary HPA), scales the target, and records Events. Owned objects
are removed by the garbage collector through their ownerReferences, so there is no delete verb.
*/}}
{{- define "petrel.rules" -}}
- apiGroups: ["petrel.dev"]
  resources: ["canaries"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["petrel.dev"]
  resources: ["canaries/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["petrel.dev"]
  resources: ["canaries/finalizers"]
  verbs: ["update"]
- apiGroups: ["petrel.dev"]
  resources: ["metrictemplates", "alertproviders", "releasefreezes"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "update"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch", "create", "patch", "update"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch", "update"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices", "destinationrules"]
  verbs: ["get", "list", "watch", "create", "patch", "update"]
{{- end -}}

{{/* The Lease the replicas elect a leader with lives in the release namespace. */}}
{{- define "petrel.leaseName" -}}
{{- printf "%s-leader" (include "petrel.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
