import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { controllerCommand, parseControllerArgs, UsageError } from '../src/cli/controller.ts';
import { MESH_PROVIDERS } from '../src/controller/mesh.ts';

describe('petrel controller options', () => {
  it('reads flags, with repeatable and comma-separated namespaces', () => {
    const options = parseControllerArgs(
      [
        '--kubeconfig',
        '/tmp/kc',
        '--prometheus-address',
        'http://127.0.0.1:9090',
        '--namespace',
        'a,b',
        '--namespace',
        'c',
        '--workers',
        '4',
        '--log-level',
        'debug',
      ],
      {},
    );
    expect(options).toEqual({
      kubeconfig: '/tmp/kc',
      inCluster: false,
      prometheusAddress: 'http://127.0.0.1:9090',
      meshProvider: 'istio',
      namespaces: ['a', 'b', 'c'],
      workers: 4,
      logLevel: 'debug',
    });
  });

  it('falls back to the environment, flags winning', () => {
    const env = {
      KUBECONFIG: '/env/kc',
      PETREL_PROMETHEUS_ADDRESS: 'http://prom:9090',
      PETREL_NAMESPACES: 'x, y',
      PETREL_WORKERS: '3',
      PETREL_LOG_LEVEL: 'warn',
    };
    const options = parseControllerArgs(['--workers', '5'], env);
    expect(options).toMatchObject({
      kubeconfig: '/env/kc',
      prometheusAddress: 'http://prom:9090',
      namespaces: ['x', 'y'],
      workers: 5,
      logLevel: 'warn',
    });
  });

  it('refuses cross-namespace references with --no-cross-namespace-refs or PETREL_NO_CROSS_NAMESPACE_REFS=true', () => {
    expect(parseControllerArgs([], {}).noCrossNamespaceRefs).toBeUndefined();
    expect(parseControllerArgs(['--no-cross-namespace-refs'], {}).noCrossNamespaceRefs).toBe(true);
    const env = { PETREL_NO_CROSS_NAMESPACE_REFS: 'true' };
    expect(parseControllerArgs([], env).noCrossNamespaceRefs).toBe(true);
    expect(parseControllerArgs([], { PETREL_NO_CROSS_NAMESPACE_REFS: 'false' }).noCrossNamespaceRefs).toBe(
      false,
    );
    expect(() => parseControllerArgs([], { PETREL_NO_CROSS_NAMESPACE_REFS: 'yes' })).toThrow(
      '--no-cross-namespace-refs: must be true or false',
    );
  });

  it('tracks Secrets with --track-secrets or PETREL_TRACK_SECRETS=true, off by default', () => {
    expect(parseControllerArgs([], {}).trackSecrets).toBeUndefined();
    expect(parseControllerArgs(['--track-secrets'], {}).trackSecrets).toBe(true);
    expect(parseControllerArgs([], { PETREL_TRACK_SECRETS: 'true' }).trackSecrets).toBe(true);
    expect(parseControllerArgs([], { PETREL_TRACK_SECRETS: 'false' }).trackSecrets).toBe(false);
    expect(parseControllerArgs(['--track-secrets'], { PETREL_TRACK_SECRETS: 'false' }).trackSecrets).toBe(
      true,
    );
    expect(() => parseControllerArgs([], { PETREL_TRACK_SECRETS: '1' })).toThrow(
      '--track-secrets: must be true or false',
    );
  });

  it.each([
    [['--mesh-provider', 'linkerd'], `--mesh-provider: must be one of ${MESH_PROVIDERS.join(', ')}`],
    [['--workers', 'many'], '--workers'],
    [['--workers', '0'], '--workers: must be at least 1'],
    [['--prometheus-address', 'prom:9090'], '--prometheus-address: must be an http:// or https:// URL'],
    [['--namespace', 'Bad_NS'], '--namespace: must be a namespace name'],
    [['--log-level', 'loud'], '--log-level: must be one of'],
    [['--kubeconfig', '/k', '--in-cluster'], 'choose one'],
    [['--frobnicate'], 'frobnicate'],
  ])('rejects %j with a message naming the flag', (args, message) => {
    expect(() => parseControllerArgs(args, {})).toThrow(UsageError);
    expect(() => parseControllerArgs(args, {})).toThrow(message);
  });

  it('exits 2 with usage on bad flags', async () => {
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (c) => {
      err += c;
    });
    const code = await controllerCommand(['--workers', '-3'], {
      stdout: new PassThrough(),
      stderr,
      stdin: new PassThrough(),
      env: {},
    });
    expect(code).toBe(2);
    expect(err).toContain('--workers');
    expect(err).toContain('usage: petrel controller');
  });
});
