import type { Canary } from '../api/canary.ts';
import type { Deployment } from './workloads.ts';

/** Selector labels looked for, in order, to name the primary's pods (as Flagger does). */
export const SELECTOR_LABELS = ['app', 'name', 'app.kubernetes.io/name'] as const;

export function primaryName(targetName: string): string {
  return `${targetName}-primary`;
}

export function canaryName(targetName: string): string {
  return `${targetName}-canary`;
}

export class SelectorLabelError extends Error {
  override readonly name = 'SelectorLabelError';
  readonly code = 'NO_SELECTOR_LABEL';
  constructor(namespace: string, name: string) {
    super(
      `Deployment ${namespace}/${name}: spec.selector.matchLabels must contain one of ` +
        `${SELECTOR_LABELS.join(', ')} so Petrel can select primary and canary pods apart`,
    );
  }
}

export interface SelectorLabel {
  key: string;
  /** The target's value, e.g. `podinfo`; the primary's is `<value>-primary`. */
  value: string;
}

export function selectorLabel(target: Deployment): SelectorLabel {
  const match = target.spec?.selector?.matchLabels ?? {};
  for (const key of SELECTOR_LABELS) {
    const value = match[key];
    if (value) return { key, value };
  }
  throw new SelectorLabelError(target.metadata?.namespace ?? '', target.metadata?.name ?? '');
}

/** The Canary's namespace, which every object Petrel writes for it shares. */
export function namespaceOf(canary: Canary): string {
  const ns = canary.metadata.namespace;
  if (!ns) throw new TypeError(`Canary ${canary.metadata.name} has no metadata.namespace`);
  return ns;
}
