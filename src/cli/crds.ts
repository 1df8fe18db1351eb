import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildCrds, crdFileName, renderCrdYaml } from '../api/crd.ts';
import { parseCommandLine, usageError } from './command-line.ts';
import type { Command } from './run.ts';

const USAGE = `usage: petrel crds [--out DIR | --check DIR]
  (no option)   print the CustomResourceDefinitions to stdout
  --out DIR     write one file per resource into DIR
  --check DIR   exit 1 when the files in DIR differ from the schemas in src/api
`;

const COMMAND_LINE = {
  command: 'petrel crds',
  usage: USAGE,
  flags: { out: { type: 'string' }, check: { type: 'string' } },
} as const;

export const crdsCommand: Command = async (args, io) => {
  const parsed = parseCommandLine(args, io, COMMAND_LINE);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  if (values.out !== undefined && values.check !== undefined) {
    return usageError(io, COMMAND_LINE, '--out and --check exclude each other');
  }
  const files = buildCrds().map((crd) => ({ name: crdFileName(crd), text: renderCrdYaml(crd) }));

  if (values.out !== undefined) {
    await mkdir(values.out, { recursive: true });
    for (const file of files) await writeFile(join(values.out, file.name), file.text);
    io.stdout.write(`wrote ${files.map((f) => join(values.out!, f.name)).join(', ')}\n`);
    return 0;
  }
  if (values.check !== undefined) {
    const stale: string[] = [];
    for (const file of files) {
      const path = join(values.check, file.name);
      const current = await readFile(path, 'utf8').catch(() => undefined);
      if (current !== file.text) stale.push(path);
    }
    if (stale.length > 0) {
      io.stderr.write(`stale CRDs (run \`npm run crds\`): ${stale.join(', ')}\n`);
      return 1;
    }
    io.stdout.write('CRDs are up to date\n');
    return 0;
  }
  io.stdout.write(files.map((f) => f.text).join('---\n'));
  return 0;
};
