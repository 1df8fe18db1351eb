import type {
  V1DeploymentSpec,
  V1DeploymentStatus,
  V2HorizontalPodAutoscalerSpec,
} from '@kubernetes/client-node';
import type { KubeObject } from './types.ts';

/** A Deployment as plain JSON. Pod templates are passed through untouched. */
export interface Deployment extends KubeObject {
  spec?: V1DeploymentSpec;
  status?: V1DeploymentStatus;
}

export interface HorizontalPodAutoscaler extends KubeObject {
  spec?: V2HorizontalPodAutoscalerSpec;
}

/** What a writer did: every writer compares with the cache first and writes only what differs. */
export type WriteAction = 'created' | 'patched' | 'unchanged';
