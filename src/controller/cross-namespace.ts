import type { Canary } from '../api/canary.ts';

/**
 * With `--no-cross-namespace-refs`, a Canary may only use MetricTemplates and AlertProviders of its own
 * namespace (as Flagger's `-no-cross-namespace-refs`): a tenant must not read another namespace's
 * queries or post through its alert credentials. Returns one problem per offending reference, each
 * naming the field and the fix; none when every reference stays in the Canary's namespace.
 */
export function crossNamespaceRefProblems(canary: Canary): string[] {
  const own = canary.metadata.namespace ?? 'default';
  const problems: string[] = [];
  const refuse = (field: string, kind: string, ref: { name: string; namespace?: string | undefined }) => {
    if (ref.namespace === undefined || ref.namespace === own) return;
    problems.push(
      `${field}.namespace: "${ref.namespace}" is not the Canary's namespace, and this controller refuses ` +
        `cross-namespace references (--no-cross-namespace-refs): create ${kind} "${ref.name}" in namespace ` +
        `"${own}" and remove ${field}.namespace`,
    );
  };
  canary.spec.analysis.metrics.forEach((metric, i) => {
    if (metric.templateRef)
      refuse(`spec.analysis.metrics[${i}].templateRef`, 'the MetricTemplate', metric.templateRef);
  });
  (canary.spec.analysis.alerts ?? []).forEach((alert, i) => {
    refuse(`spec.analysis.alerts[${i}].providerRef`, 'the AlertProvider', alert.providerRef);
  });
  return problems;
}

/** The Canary without its alerts to other namespaces: the InvalidSpec alert must not go through them. */
export function withoutCrossNamespaceAlerts<T extends { metadata?: { namespace?: string } }>(raw: T): T {
  const spec = (raw as { spec?: { analysis?: { alerts?: unknown } } }).spec;
  const alerts = spec?.analysis?.alerts;
  if (!Array.isArray(alerts)) return raw;
  const own = raw.metadata?.namespace ?? 'default';
  const kept = alerts.filter((a) => {
    const ns = (a as { providerRef?: { namespace?: unknown } })?.providerRef?.namespace;
    return ns === undefined || ns === own;
  });
  return { ...raw, spec: { ...spec, analysis: { ...spec?.analysis, alerts: kept } } };
}
