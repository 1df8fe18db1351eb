import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { controllerCommand } from '../src/cli/controller.ts';
import { OperationsUsageError, parseOperationsArgs } from '../src/cli/operations.ts';

describe('petrel controller operations flags', () => {
  it('has defaults for a local run: metrics on 8080, no leader election', () => {
    const { options, rest } = parseOperationsArgs(['--workers', '3'], { POD_NAME: 'pod-1' });
    expect(rest).toEqual(['--workers', '3']);
    expect(options).toEqual({
      metricsPort: 8080,
      metricsHost: '0.0.0.0',
      leaderElect: false,
      leaseName: 'petrel-leader',
      leaseNamespace: undefined,
      identity: 'pod-1',
      leaseDuration: 15_000,
      renewDeadline: 10_000,
      retryPeriod: 2_000,
    });
  });

  it('takes its flags out of the arguments, in both spellings, and leaves the others in order', () => {
    const { options, rest } = parseOperationsArgs(
      [
        '--namespace',
        'a',
        '--leader-elect',
        '--lease-namespace=petrel-system',
        '--metrics-port',
        '0',
        '--lease-duration',
        '3s',
        '--renew-deadline=2s',
        '--retry-period',
        '500ms',
        '--log-level',
        'debug',
      ],
      {},
    );
    expect(rest).toEqual(['--namespace', 'a', '--log-level', 'debug']);
    expect(options).toMatchObject({
      leaderElect: true,
      leaseNamespace: 'petrel-system',
      metricsPort: 0,
      leaseDuration: 3000,
      renewDeadline: 2000,
      retryPeriod: 500,
    });
  });

  it('reads the environment the chart sets, flags winning', () => {
    const env = {
      PETREL_LEADER_ELECT: 'true',
      POD_NAMESPACE: 'petrel-system',
      POD_NAME: 'petrel-7d9-abc',
      PETREL_LEASE_NAME: 'petrel-leader',
      PETREL_METRICS_PORT: '9090',
      PETREL_LEASE_DURATION: '20s',
    };
    const { options } = parseOperationsArgs(['--metrics-port', '8081'], env);
    expect(options).toMatchObject({
      leaderElect: true,
      leaseNamespace: 'petrel-system',
      identity: 'petrel-7d9-abc',
      metricsPort: 8081,
      leaseDuration: 20_000,
    });
    expect(parseOperationsArgs([], { PETREL_LEADER_ELECT: 'false' }).options.leaderElect).toBe(false);
  });

  it.each([
    [['--metrics-port', '70000'], '--metrics-port: must be 0-65535'],
    [['--metrics-port', 'http'], '--metrics-port: must be a port number'],
    [['--leader-elect'], '--lease-namespace: is required with --leader-elect'],
    [['--lease-duration', 'soon'], '--lease-duration: must be a duration'],
    [['--lease-duration', '5s', '--renew-deadline', '5s'], 'must not exceed leaseDuration'],
    [['--lease-name', 'Not_A_Name'], '--lease-name: must be a lowercase DNS name'],
    [['--metrics-port'], '--metrics-port: needs a value'],
  ])('refuses %j with a message naming the flag', (args, message) => {
    expect(() => parseOperationsArgs(args, {})).toThrow(OperationsUsageError);
    expect(() => parseOperationsArgs(args, {})).toThrow(message);
  });

  it('petrel controller answers bad operations flags with exit code 2 and the usage', async () => {
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (c) => {
      err += c;
    });
    const code = await controllerCommand(['--leader-elect'], {
      stdout: new PassThrough(),
      stderr,
      stdin: new PassThrough(),
      env: {},
    });
    expect(code).toBe(2);
    expect(err).toContain('--lease-namespace: is required with --leader-elect');
    expect(err).toContain('--metrics-port N');
  });
});
