import { isKubeApiError } from '../../kube/errors.ts';
import type { Scope } from './source.ts';

/** The canary asked for is not there: name, namespace, and how to find the right one. */
export function notFound(scope: Scope): string {
  return `Canary ${scope.namespace}/${scope.name} was not found: check the name and -n NAMESPACE (petrel get canaries -A lists them all)`;
}

/** A failed read as a sentence naming what to check; a 404 names the canary only when `scope.name` was read. */
export function readError(err: unknown, scope: Scope): string {
  if (isKubeApiError(err, 'NOT_FOUND') && scope.name) return notFound(scope);
  if (isKubeApiError(err, 'NOT_FOUND'))
    return 'the Canary resource is not installed in this cluster: apply the CRDs (petrel crds --out DIR, or the Helm chart)';
  if (isKubeApiError(err, 'NETWORK') || isKubeApiError(err, 'TIMEOUT'))
    return `cannot reach the Kubernetes API server (${err.message}): check --kubeconfig and --context`;
  if (isKubeApiError(err, 'FORBIDDEN'))
    return `not allowed to read canaries.petrel.dev${scope.namespace ? ` in ${scope.namespace}` : ''}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
