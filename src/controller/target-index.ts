import { canaryKey } from './keys.ts';

/**
 * Maps the Deployments a Canary looks at (its target and `<target>-primary`) to the Canary's key, so a
 * change to a Deployment wakes exactly the canaries that care, at once.
 */
export class TargetIndex {
  private readonly byDeployment = new Map<string, Set<string>>();
  private readonly byCanary = new Map<string, string[]>();

  set(namespace: string, canaryName: string, targetName: string | undefined): void {
    const key = canaryKey(namespace, canaryName);
    this.remove(namespace, canaryName);
    if (!targetName) return;
    const deployments = [canaryKey(namespace, targetName), canaryKey(namespace, `${targetName}-primary`)];
    this.byCanary.set(key, deployments);
    for (const d of deployments) {
      let keys = this.byDeployment.get(d);
      if (!keys) {
        keys = new Set();
        this.byDeployment.set(d, keys);
      }
      keys.add(key);
    }
  }

  remove(namespace: string, canaryName: string): void {
    const key = canaryKey(namespace, canaryName);
    for (const d of this.byCanary.get(key) ?? []) {
      const keys = this.byDeployment.get(d);
      keys?.delete(key);
      if (keys?.size === 0) this.byDeployment.delete(d);
    }
    this.byCanary.delete(key);
  }

  canariesFor(namespace: string, deploymentName: string): string[] {
    return [...(this.byDeployment.get(canaryKey(namespace, deploymentName)) ?? [])];
  }
}
