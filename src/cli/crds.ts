import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCrds, crdFileName, renderCrdYaml } from '../api/crd.ts';
import type { Command } from './run.ts';

const USAGE = `usage: petrel crds [--out DIR | --check DIR]
  (no option)   print the CustomResourceDefinitions to stdout
  --out DIR     write one file per resource into DIR
  --check DIR   exit 1 when the files in DIR differ from the schemas in src/api
`;

export const crdsCommand: Command = async (args, io) => {
  let values: { out?: string; check?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: { out: { type: 'string' }, check: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr.write(`petrel crds: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (values.out !== undefined && values.check !== undefined) {
    io.stderr.write(`petrel crds: --out and --check exclude each other\n${USAGE}`);
    return 2;
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
