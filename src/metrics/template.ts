/** What a query template can refer to. */
export interface TemplateModel {
  /** The Canary's name. */
  name: string;
  namespace: string;
  /** The target Deployment's name (the canary workload). */
  target: string;
  /** The metric's interval, e.g. '1m', pasted into range selectors. */
  interval: string;
  variables: Readonly<Record<string, string>>;
  /** The apex Service's name (spec.service.name, else the target's): Flagger's `{{ service }}`. */
  service?: string;
  /** The workload a relative check queries (canary or primary); the target when absent. */
  workload?: string;
}

export class TemplateRenderError extends Error {
  override readonly name = 'TemplateRenderError';
  readonly code = 'INVALID_TEMPLATE';
  constructor(
    message: string,
    readonly variable?: string,
  ) {
    super(message);
  }
}

const PLACEHOLDER = /\{\{(.*?)\}\}/gs;
const SIMPLE_NAMES = ['name', 'namespace', 'target', 'interval', 'workload'] as const;
type SimpleName = (typeof SIMPLE_NAMES)[number];
const VARIABLE = /^variables\.([A-Za-z_][A-Za-z0-9_-]*)$/;

/**
 * Replaces `{{ namespace }}`, `{{ target }}`, `{{ interval }}`, `{{ name }}`, `{{ workload }}` and
 * `{{ variables.NAME }}` in a query. Anything else inside `{{ }}` is an error naming it, never
 * left in the query or replaced by an empty string.
 */
export function renderQuery(template: string, model: TemplateModel): string {
  const rendered = template.replace(PLACEHOLDER, (_match, inner: string) => {
    const expr = inner.trim();
    if (expr === 'workload') return model.workload ?? model.target;
    if (expr === 'service') return model.service ?? model.target;
    if ((SIMPLE_NAMES as readonly string[]).includes(expr))
      return model[expr as Exclude<SimpleName, 'workload'>];
    const variable = VARIABLE.exec(expr);
    if (variable) {
      const key = variable[1]!;
      if (!Object.hasOwn(model.variables, key)) {
        const known = Object.keys(model.variables);
        throw new TemplateRenderError(
          `template variable "variables.${key}" is not set: add "${key}" to the metric's templateVariables` +
            (known.length ? ` (set: ${known.join(', ')})` : ''),
          `variables.${key}`,
        );
      }
      return model.variables[key]!;
    }
    throw new TemplateRenderError(
      `unknown template variable "${expr}": use one of ${[...SIMPLE_NAMES, 'service'].map((n) => `{{ ${n} }}`).join(', ')} or {{ variables.NAME }}`,
      expr,
    );
  });
  const unclosed = rendered.indexOf('{{');
  if (unclosed !== -1) {
    throw new TemplateRenderError(`unclosed "{{" at character ${unclosed} of the query: close it with "}}"`);
  }
  return rendered;
}
