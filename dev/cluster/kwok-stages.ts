import { stringify } from 'yaml';
import { NEVER_READY_ANNOTATION } from '../sandbox/apiserver/index.ts';

/** Nodes that KWOK manages carry this annotation (and only those). */
export const FAKE_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

const notReady = {
  key: '.status.conditions.[] | select( .type == "Ready" ) | .status',
  operator: 'NotIn',
  values: ['True'],
};

const nodeInitialize = {
  apiVersion: 'kwok.x-k8s.io/v1alpha1',
  kind: 'Stage',
  metadata: { name: 'node-initialize' },
  spec: {
    resourceRef: { apiGroup: 'v1', kind: 'Node' },
    selector: { matchExpressions: [notReady] },
    next: {
      statusTemplate: `{{ $now := Now }}
conditions:
{{ range NodeConditions }}
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $now | Quote }}
  message: {{ .message | Quote }}
  reason: {{ .reason | Quote }}
  status: {{ .status | Quote }}
  type: {{ .type | Quote }}
{{ end }}
addresses:
- address: {{ NodeIP | Quote }}
  type: InternalIP
- address: {{ NodeName | Quote }}
  type: Hostname
allocatable: {cpu: "32", memory: 128Gi, pods: "1000"}
capacity: {cpu: "32", memory: 128Gi, pods: "1000"}
nodeInfo:
  architecture: amd64
  operatingSystem: linux
  kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
  kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
  containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
  kernelVersion: {{ printf "kwok-%s" Version | Quote }}
  bootID: ""
  machineID: ""
  osImage: ""
  systemUUID: ""
phase: Running
`,
    },
  },
};

function podStatus(ready: boolean): string {
  const status = ready ? '"True"' : '"False"';
  return `{{ $now := Now }}
conditions:
- {type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }}}
- {type: PodScheduled, status: "True", lastTransitionTime: {{ $now | Quote }}}
- {type: ContainersReady, status: ${status}, lastTransitionTime: {{ $now | Quote }}}
- {type: Ready, status: ${status}, lastTransitionTime: {{ $now | Quote }}}
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  imageID: ""
  name: {{ .name | Quote }}
  ready: ${ready}
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
{{ with NodeIPWith .spec.nodeName }}
hostIP: {{ . | Quote }}
hostIPs:
- ip: {{ . | Quote }}
{{ end }}
{{ with PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
podIP: {{ . | Quote }}
podIPs:
- ip: {{ . | Quote }}
{{ end }}
phase: Running
startTime: {{ $now | Quote }}
`;
}

const annotationPath = `.metadata.annotations["${NEVER_READY_ANNOTATION}"]`;

function podStage(name: string, ready: boolean, delayMs: number) {
  return {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Stage',
    metadata: { name },
    spec: {
      resourceRef: { apiGroup: 'v1', kind: 'Pod' },
      selector: {
        matchExpressions: [
          { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
          { key: '.spec.nodeName', operator: 'Exists' },
          { key: '.status.phase', operator: 'In', values: ['Pending'] },
          ready
            ? { key: annotationPath, operator: 'NotIn', values: ['true'] }
            : { key: annotationPath, operator: 'In', values: ['true'] },
        ],
      },
      delay: { durationMilliseconds: delayMs },
      next: { statusTemplate: podStatus(ready) },
    },
  };
}

const podDelete = {
  apiVersion: 'kwok.x-k8s.io/v1alpha1',
  kind: 'Stage',
  metadata: { name: 'pod-delete' },
  spec: {
    resourceRef: { apiGroup: 'v1', kind: 'Pod' },
    selector: { matchExpressions: [{ key: '.metadata.deletionTimestamp', operator: 'Exists' }] },
    next: { delete: true },
  },
};

/**
 * KWOK's configuration: nodes become Ready at once; a bound pod becomes Running and Ready after
 * `readyDelayMs`, except pods annotated with the simulator's never-ready annotation, which run
 * but never become Ready (as in the sandbox); a deleted pod goes away at once, as if its kubelet
 * had confirmed.
 */
export function kwokStages(readyDelayMs: number): string {
  return [
    nodeInitialize,
    podStage('pod-ready', true, readyDelayMs),
    podStage('pod-never-ready', false, readyDelayMs),
    podDelete,
  ]
    .map((doc) => stringify(doc))
    .join('---\n');
}
