import { ReverseIndex } from '../lib/reverse-index.ts';
import { canaryKey } from './keys.ts';

/**
 * Maps the Deployments a Canary looks at (its target and `<target>-primary`) to the Canary's key, so a
 * change to a Deployment wakes exactly the canaries that care, at once.
 */
export class TargetIndex {
  private readonly index = new ReverseIndex();

  set(namespace: string, canaryName: string, targetName: string | undefined): void {
    const deployments = targetName
      ? [canaryKey(namespace, targetName), canaryKey(namespace, `${targetName}-primary`)]
      : [];
    this.index.set(canaryKey(namespace, canaryName), deployments);
  }

  remove(namespace: string, canaryName: string): void {
    this.index.remove(canaryKey(namespace, canaryName));
  }

  canariesFor(namespace: string, deploymentName: string): string[] {
    return this.index.ownersOf(canaryKey(namespace, deploymentName));
  }
}
