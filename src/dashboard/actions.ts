import { isKubeApiError } from '../kube/errors.ts';
import { RESOURCES } from '../kube/resources.ts';
import type { KubeApi, KubeObject } from '../kube/types.ts';
import { MANUAL_ACTIONS, type ManualActionType, manualActionPatch } from '../rollout/index.ts';

/** The answer to the page: an HTTP status and a sentence for the person who clicked. */
export interface ActionResult {
  status: number;
  message: string;
}

export interface ActionRequest {
  namespace: string;
  name: string;
  action: string;
}

export function isManualAction(action: string): action is ManualActionType {
  return (MANUAL_ACTIONS as readonly string[]).includes(action);
}

/**
 * Carries out a button's action as `petrel <action>` does: the annotation patch on the Canary, sent with
 * the user's own kubeconfig, so the API server's RBAC decides exactly as it would for kubectl.
 */
export async function requestAction(
  api: KubeApi,
  request: ActionRequest,
  by: string,
  now: Date,
): Promise<ActionResult> {
  const { namespace, name, action } = request;
  const what = `Canary ${namespace}/${name}`;
  if (!isManualAction(action)) {
    return { status: 400, message: `unknown action "${action}": use one of ${MANUAL_ACTIONS.join(', ')}` };
  }
  try {
    await api.mergePatch<KubeObject>(
      { resource: RESOURCES.canary, namespace, name },
      manualActionPatch(action, by, now),
    );
    return { status: 200, message: `${action} requested for ${what} by ${by}` };
  } catch (err) {
    if (isKubeApiError(err, 'FORBIDDEN')) {
      return {
        status: 403,
        message:
          `${action} refused: your kubeconfig user (${by}) may not patch ${what}. ` +
          `It needs "patch" on canaries.petrel.dev in namespace ${namespace}. The API server said: ${err.message}`,
      };
    }
    if (isKubeApiError(err, 'UNAUTHORIZED')) {
      return {
        status: 401,
        message: `${action} refused: the API server did not accept your kubeconfig credentials`,
      };
    }
    if (isKubeApiError(err, 'NOT_FOUND')) {
      return { status: 404, message: `${what} no longer exists` };
    }
    return { status: 502, message: `${action} of ${what} failed: ${(err as Error).message}` };
  }
}
