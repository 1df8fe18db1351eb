import { stringify } from 'yaml';

export const OUTPUT_FORMATS = ['json', 'yaml', 'name'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** One document for scripts. In a stream (`--watch`), JSON is one document per line and YAML is separated by `---`. */
export function formatDocument(value: unknown, format: 'json' | 'yaml', stream: boolean): string {
  if (format === 'json') return stream ? `${JSON.stringify(value)}\n` : `${JSON.stringify(value, null, 2)}\n`;
  return `${stream ? '---\n' : ''}${stringify(value)}`;
}
