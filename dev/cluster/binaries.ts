import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSIONS_FILE = fileURLToPath(new URL('./versions.env', import.meta.url));

/** The command that builds the control plane; named in every message about missing binaries. */
export const BUILD_COMMAND = 'npm run cluster:build';

export interface ControlPlaneVersions {
  readonly kubernetes: string;
  readonly etcd: string;
  readonly kwok: string;
}

export interface ControlPlaneBinaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubeScheduler: string;
  readonly kwok: string;
}

/** The built binaries are not in the cache; the message names the command that builds them. */
export class ControlPlaneBinariesMissingError extends Error {
  override readonly name = 'ControlPlaneBinariesMissingError';
  readonly code = 'CLUSTER_BINARIES_MISSING';
  constructor(readonly missing: string[]) {
    super(
      `the real control plane is not built: missing ${missing.join(', ')}.\n` +
        `Build it once (about 5 minutes cold on 2 quiet cores, cached afterwards) with: ${BUILD_COMMAND}`,
    );
  }
}

/** The pinned versions, from dev/cluster/versions.env (KEY=VALUE lines, shared with build.sh). */
export function readVersions(file = VERSIONS_FILE): ControlPlaneVersions {
  const values = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z_]+)=(\S+)\s*$/.exec(line);
    if (match) values.set(match[1] as string, match[2] as string);
  }
  const need = (key: string): string => {
    const value = values.get(key);
    if (!value) throw new Error(`${file} has no ${key}=... line`);
    return value;
  };
  return {
    kubernetes: need('KUBERNETES_VERSION'),
    etcd: need('ETCD_VERSION'),
    kwok: need('KWOK_VERSION'),
  };
}

/** `${PETREL_CACHE:-$HOME/.cache/petrel}/control-plane`, as build.sh computes it. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.PETREL_CACHE || join(homedir(), '.cache', 'petrel'), 'control-plane');
}

export function binaryPaths(versions = readVersions(), root = cacheRoot()): ControlPlaneBinaries {
  const bin = (component: string, version: string, name: string) =>
    join(root, `${component}-${version}`, 'bin', name);
  return {
    etcd: bin('etcd', versions.etcd, 'etcd'),
    kubeApiserver: bin('kubernetes', versions.kubernetes, 'kube-apiserver'),
    kubeControllerManager: bin('kubernetes', versions.kubernetes, 'kube-controller-manager'),
    kubeScheduler: bin('kubernetes', versions.kubernetes, 'kube-scheduler'),
    kwok: bin('kwok', versions.kwok, 'kwok'),
  };
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function missingBinaries(binaries: ControlPlaneBinaries): string[] {
  return Object.values(binaries).filter((path) => !executable(path));
}

/** The binaries' paths, or ControlPlaneBinariesMissingError naming the build command. */
export function requireBinaries(binaries = binaryPaths()): ControlPlaneBinaries {
  const missing = missingBinaries(binaries);
  if (missing.length > 0) throw new ControlPlaneBinariesMissingError(missing);
  return binaries;
}
