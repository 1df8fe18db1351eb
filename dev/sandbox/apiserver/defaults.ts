import type { KubeObject, ResourceType } from './types.ts';

/**
 * The defaults a real API server fills in for built-in kinds, limited to the ones clients commonly
 * read back: a Secret's type, a Deployment's replica count, a new Namespace's phase.
 */
export function applyBuiltinDefaults(type: ResourceType, object: KubeObject, creating: boolean): void {
  if (!type.builtin) return;
  switch (`${type.group}/${type.plural}`) {
    case '/secrets':
      if (object.type === undefined || object.type === '') object.type = 'Opaque';
      break;
    case 'apps/deployments': {
      const spec = object.spec as Record<string, unknown> | undefined;
      if (spec && typeof spec === 'object' && spec.replicas === undefined) spec.replicas = 1;
      break;
    }
    case '/namespaces':
      if (creating) object.status = { phase: 'Active' };
      break;
  }
}
