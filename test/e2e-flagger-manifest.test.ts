import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type MigrationReport, migrateSource } from '../src/cli/migrate.ts';
import type { RunningController } from '../src/controller/controller.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/types.ts';
import type { VirtualService } from '../src/routers/istio.ts';
import type { Service } from '../src/routers/services.ts';
import { useCleanups } from './support/cleanups.ts';
import {
  createNamespace,
  podinfoDeployment,
  runController,
  testLogger,
  useE2e,
  waitForPhase,
} from './support/e2e.ts';

/**
 * A manifest from Flagger's own Istio e2e test (service.portDiscovery, service.apex labels and
 * annotations, headers), migrated with petrel migrate, applied through the sandbox API server (whose
 * CRD must keep every field) and run by the controller: the Services and the VirtualService come out
 * as Flagger's test expects them.
 */

const env = useE2e({ deploymentReadyDelayMs: 200 });
const FIXTURE = join(import.meta.dirname, 'fixtures/flagger/istio/test-istio-test-canary-2-1-canary.yaml');

describe('end to end: a Flagger manifest, migrated', () => {
  const cleanups = useCleanups();

  it('initialises with discovered ports and apex metadata on the Services, and the headers on the route', async () => {
    const ns = 'e2e-flagger';
    const report: MigrationReport = { changes: [], remaining: [], unreadable: [], objects: 0, outputs: [] };
    migrateSource({ name: FIXTURE, text: readFileSync(FIXTURE, 'utf8') }, report);
    expect(report.remaining).toEqual([]);
    const canary = parseAllDocuments(report.outputs[0]!.text)[0]!.toJS() as KubeObject & {
      spec: Record<string, unknown>;
    };
    canary.metadata = { name: 'podinfo', namespace: ns };
    // The latency MetricTemplate of Flagger's test lives in istio-system; checks run only on a new revision.

    await createNamespace(env.api, ns);
    const deployment = podinfoDeployment(ns, 'podinfo:1.0') as unknown as KubeObject & {
      spec: { template: { spec: { containers: { ports: unknown[] }[] } } };
    };
    deployment.spec.template.spec.containers[0]!.ports = [
      { name: 'http', containerPort: 9898 },
      { name: 'http-metrics', containerPort: 9797 },
      { containerPort: 9999 },
    ];
    await env.api.create(RESOURCES.deployment, deployment);
    const log = testLogger();
    const controller: RunningController = runController(env, ns, log.logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    await env.api.create(RESOURCES.canary, canary);
    await waitForPhase(env.api, ns, ['Initialized']);

    const service = (name: string) =>
      env.api.get<Service>({ resource: RESOURCES.service, namespace: ns, name });
    const apex = await service('podinfo');
    expect(apex.metadata?.labels).toMatchObject({ test: 'labels-test', 'petrel.dev/managed-by': 'petrel' });
    expect(apex.metadata?.annotations).toMatchObject({ test: 'annotations-test' });
    for (const name of ['podinfo', 'podinfo-primary', 'podinfo-canary']) {
      const ports = (await service(name)).spec?.ports?.map((p) => [p.name, p.port]);
      expect(ports, name).toEqual([
        ['http', 9898],
        ['http-metrics', 9797],
        ['tcp-podinfo-2', 9999],
      ]);
    }
    expect((await service('podinfo-canary')).metadata?.labels).not.toHaveProperty('test');
    const vs = await env.api.get<VirtualService>({
      resource: RESOURCES.virtualService,
      namespace: ns,
      name: 'podinfo',
    });
    expect(vs.spec?.http?.[0]?.headers).toEqual({
      request: {
        add: {
          'x-envoy-upstream-rq-timeout-ms': '15000',
          'x-envoy-max-retries': '10',
          'x-envoy-retry-on': 'gateway-error,connect-failure,refused-stream',
        },
      },
    });
  }, 60_000);
});
