import type { SandboxApiServer, StoreEvent } from '../../dev/sandbox/apiserver/index.ts';
import type { SecretRegistry } from '../../src/lib/redact.ts';
import { readWeights, type VirtualService } from '../../src/routers/istio.ts';

export const APP = 'podinfo';
/** What Petrel owns for a Canary `podinfo`: re-creating any of these after the Canary is gone is a violation. */
const OWNED: Record<string, ReadonlySet<string>> = {
  services: new Set([APP, `${APP}-primary`, `${APP}-canary`]),
  'destinationrules.networking.istio.io': new Set([`${APP}-primary`, `${APP}-canary`]),
  'virtualservices.networking.istio.io': new Set([APP]),
  'deployments.apps': new Set([`${APP}-primary`]),
};
const CANARIES = 'canaries.petrel.dev';
const LEASES = 'leases.coordination.k8s.io';

export interface NamespaceView {
  released: boolean;
  weight?: number;
  phase?: string;
  weights: number[];
  /** When each entry of `weights` / `phases` was written (ms since epoch). */
  weightTimes: number[];
  phases: string[];
  phaseTimes: number[];
  deletedAt?: number;
  recreated: string[];
  /** InvalidSpec message bytes of each mutated Canary, by name. */
  invalid: Map<string, number>;
}

export interface SecretHit {
  where: string;
  at: number;
}

/**
 * Reads the sandbox's own record of every change (not a watch, which the injected faults cut), so the weight
 * and phase sequences are complete: a re-exposure that lasted one write is still seen.
 */
export class StoreObserver {
  private readonly views = new Map<string, NamespaceView>();
  readonly secretHits: SecretHit[] = [];
  readonly leaseChanges: { at: number; holder: string }[] = [];
  scanned = 0;
  private unsubscribe?: () => void;

  /** Called as a route write takes the weight from above 0 back to 0 after the release: the decision's. */
  onDecisionRoute: (namespace: string) => void = () => {};

  constructor(private readonly secrets: SecretRegistry) {}

  attach(sandbox: SandboxApiServer): void {
    this.unsubscribe = sandbox.onChange((event) => this.onChange(event));
  }

  detach(): void {
    this.unsubscribe?.();
  }

  view(namespace: string): NamespaceView {
    let v = this.views.get(namespace);
    if (!v) {
      v = {
        released: false,
        weights: [],
        weightTimes: [],
        phases: [],
        phaseTimes: [],
        recreated: [],
        invalid: new Map(),
      };
      this.views.set(namespace, v);
    }
    return v;
  }

  get leader(): string | undefined {
    return this.leaseChanges.at(-1)?.holder;
  }

  private onChange(event: StoreEvent): void {
    const obj = event.object;
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    if (event.key !== 'secrets') {
      this.scanned++;
      if (this.secrets.contains(JSON.stringify(obj)))
        this.secretHits.push({ where: `${event.key} ${ns}/${name}`, at: Date.now() });
    }
    if (event.key === LEASES) {
      const holder = (obj as { spec?: { holderIdentity?: string } }).spec?.holderIdentity ?? '';
      if (holder && this.leader !== holder) this.leaseChanges.push({ at: Date.now(), holder });
      return;
    }
    if (!ns.startsWith('chaos-')) return;
    const v = this.view(ns);
    if (event.key === CANARIES) {
      this.onCanary(v, event, name);
      return;
    }
    if (event.key === 'virtualservices.networking.istio.io' && name === APP && event.type !== 'DELETED') {
      const w = readWeights(obj as VirtualService, APP)?.canary;
      if (w === undefined) return;
      const before = v.weight ?? 0;
      v.weight = w;
      if (v.released && v.weights.at(-1) !== w) {
        v.weights.push(w);
        v.weightTimes.push(Date.now());
      }
      if (v.released && before > 0 && w === 0) this.onDecisionRoute(ns);
    }
    if (event.type === 'ADDED' && v.deletedAt !== undefined && OWNED[event.key]?.has(name)) {
      v.recreated.push(`${event.key.split('.')[0]}/${name}`);
    }
  }

  private onCanary(v: NamespaceView, event: StoreEvent, name: string): void {
    const status = (
      event.object as { status?: { phase?: string; conditions?: { type: string; message?: string }[] } }
    ).status;
    if (name !== APP) {
      const message = status?.conditions?.find((c) => c.type === 'InvalidSpec')?.message;
      if (message !== undefined) v.invalid.set(name, Buffer.byteLength(message));
      return;
    }
    if (event.type === 'DELETED') {
      v.deletedAt = Date.now();
      return;
    }
    const phase = status?.phase;
    if (phase === undefined) return;
    v.phase = phase;
    if (v.released && v.phases.at(-1) !== phase) {
      v.phases.push(phase);
      v.phaseTimes.push(Date.now());
    }
  }
}
