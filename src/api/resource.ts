import { type AlertProvider, validateAlertProvider } from './alert-provider.ts';
import { type Canary, validateCanary } from './canary.ts';
import { PETREL_GROUP } from './constants.ts';
import type { ValidationResult } from './issues.ts';
import { type MetricTemplate, validateMetricTemplate } from './metric-template.ts';
import { type ReleaseFreeze, validateReleaseFreeze } from './release-freeze.ts';

export const PETREL_KINDS = ['Canary', 'MetricTemplate', 'AlertProvider', 'ReleaseFreeze'] as const;
export type PetrelKind = (typeof PETREL_KINDS)[number];
export type PetrelResource = Canary | MetricTemplate | AlertProvider | ReleaseFreeze;

/** True when the object claims the petrel.dev API group, whatever its version or kind. */
export function isPetrelObject(input: unknown): input is { apiVersion: string; kind?: unknown } {
  if (typeof input !== 'object' || input === null) return false;
  const apiVersion = (input as { apiVersion?: unknown }).apiVersion;
  return typeof apiVersion === 'string' && apiVersion.split('/')[0] === PETREL_GROUP;
}

/** Validates any petrel.dev object by its kind; an unknown kind is an issue, not a crash. */
export function validatePetrelResource(input: unknown): ValidationResult<PetrelResource> {
  const kind = (input as { kind?: unknown } | null)?.kind;
  switch (kind) {
    case 'Canary':
      return validateCanary(input);
    case 'MetricTemplate':
      return validateMetricTemplate(input);
    case 'AlertProvider':
      return validateAlertProvider(input);
    case 'ReleaseFreeze':
      return validateReleaseFreeze(input);
    default:
      return {
        ok: false,
        issues: [
          {
            path: 'kind',
            message: `must be one of ${PETREL_KINDS.join(', ')} (got ${kind === undefined ? 'nothing' : JSON.stringify(kind)})`,
          },
        ],
      };
  }
}

/**
 * The object with spec.provider set to `provider` when it is a Canary that sets none: what the controller
 * does with its --mesh-provider before validating. Anything else is returned as it is.
 */
export function withDefaultProvider<T>(input: T, provider: string | undefined): T {
  if (!provider || typeof input !== 'object' || input === null) return input;
  const { kind, spec } = input as { kind?: unknown; spec?: unknown };
  if (kind !== 'Canary' || typeof spec !== 'object' || spec === null || Array.isArray(spec)) return input;
  if ('provider' in spec) return input;
  return { ...input, spec: { ...spec, provider } };
}
