import { describe, expect, it } from 'vitest';
import { validateCanary } from '../src/api/canary.ts';
import { buildCrds } from '../src/api/crd.ts';
import { validateAgainstCrdSchema } from '../src/api/openapi-validate.ts';
import { validateReleaseFreeze } from '../src/api/release-freeze.ts';
import { type LintReport, lintSource } from '../src/cli/lint.ts';

function lintText(text: string): string[] {
  const report: LintReport = { problems: [], unreadable: [], resources: 0, files: 0 };
  lintSource({ name: 'w.yaml', text }, report);
  expect(report.unreadable).toEqual([]);
  return report.problems;
}

const canaryWith = (windows: string) => `apiVersion: petrel.dev/v1alpha1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  targetRef:
    kind: Deployment
    name: podinfo
  service:
    port: 9898
  releaseWindows:
${windows}`;

describe('petrel lint: spec.releaseWindows', () => {
  it('accepts weekdays 9-17 in Europe/Berlin and fills in the defaults', () => {
    const text = canaryWith(`    windows:
      - schedule: "0 9 * * 1-5"
        duration: 8h
        timeZone: Europe/Berlin
`);
    expect(lintText(text)).toEqual([]);
    const result = validateCanary({
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'Canary',
      metadata: { name: 'p' },
      spec: {
        targetRef: { kind: 'Deployment', name: 'p' },
        service: { port: 80 },
        releaseWindows: { windows: [{ schedule: '0 9 * * 1-5', duration: '8h' }] },
      },
    });
    expect(result.ok && result.value.spec.releaseWindows).toEqual({
      windows: [
        { schedule: '0 9 * * 1-5', duration: '8h', timeZone: 'UTC', appliesTo: ['Start', 'Advance'] },
      ],
      outside: 'Hold',
    });
  });

  it.each([
    [
      'a malformed cron expression',
      `    windows:
      - schedule: "0 25 * * *"
        duration: 1h
`,
      'spec.releaseWindows.windows[0].schedule: must be a five-field cron expression such as "0 9 * * 1-5" (got "0 25 * * *"): Invalid value for hour: 25',
    ],
    [
      'a six-field (seconds) expression',
      `    windows:
      - schedule: "0 0 9 * * *"
        duration: 1h
`,
      expect.stringMatching(
        /^w\.yaml#1 Canary test\/podinfo: spec\.releaseWindows\.windows\[0\]\.schedule: must be a five-field cron expression .*6 parts/,
      ),
    ],
    [
      'an unknown time zone',
      `    windows:
      - schedule: "0 9 * * *"
        duration: 1h
        timeZone: Europe/Atlantis
`,
      'spec.releaseWindows.windows[0].timeZone: must be an IANA time zone such as Europe/Berlin or UTC (got "Europe/Atlantis")',
    ],
    [
      'a zero duration',
      `    windows:
      - schedule: "0 9 * * *"
        duration: 0s
`,
      'spec.releaseWindows.windows[0].duration: must be at least 1m (got 0s)',
    ],
    [
      'a negative duration',
      `    windows:
      - schedule: "0 9 * * *"
        duration: -1h
`,
      'spec.releaseWindows.windows[0].duration: must be a duration such as 30s, 1m or 1h30m (got "-1h")',
    ],
    [
      'a schedule that never opens',
      `    windows:
      - schedule: "0 9 31 2 *"
        duration: 1h
`,
      'spec.releaseWindows.windows[0].schedule: never matches a date (got "0 9 31 2 *"): the window would never open',
    ],
    [
      'an unknown outside action',
      `    outside: Abort
    windows:
      - schedule: "0 9 * * *"
        duration: 1h
`,
      'spec.releaseWindows.outside: must be one of "Hold", "Rollback" (got "Abort")',
    ],
    ['no windows at all', '    windows: []\n', 'spec.releaseWindows.windows: must have at least 1 item'],
  ])('refuses %s with the field path', (_, windows, problem) => {
    const expected = typeof problem === 'string' ? `w.yaml#1 Canary test/podinfo: ${problem}` : problem;
    expect(lintText(canaryWith(windows))).toEqual([expected]);
  });
});

describe('petrel lint: ReleaseFreeze', () => {
  const freeze = (spec: string) => `apiVersion: petrel.dev/v1alpha1
kind: ReleaseFreeze
metadata:
  name: year-end
  namespace: shop
spec:
${spec}`;

  it('accepts a freeze from Dec 20 to Jan 3 for the canaries of one team', () => {
    expect(
      lintText(
        freeze(`  selector:
    matchLabels:
      team: payments
  start: "2026-12-20T00:00:00+01:00"
  end: "2027-01-03T00:00:00+01:00"
  reason: year-end change freeze
`),
      ),
    ).toEqual([]);
  });

  it('accepts an empty spec: every canary of the namespace, while the freeze exists', () => {
    expect(
      validateReleaseFreeze({
        apiVersion: 'petrel.dev/v1alpha1',
        kind: 'ReleaseFreeze',
        metadata: { name: 'f' },
        spec: {},
      }).ok,
    ).toBe(true);
  });

  it('refuses a time without an offset, an end before the start and a bad selector, with field paths', () => {
    expect(
      lintText(
        freeze(`  start: "2026-12-20 00:00"
  selector:
    matchExpressions:
      - key: team
        operator: In
`),
      ),
    ).toEqual([
      'w.yaml#1 ReleaseFreeze shop/year-end: spec.selector.matchExpressions[0].values: required: operator In needs at least one value',
      'w.yaml#1 ReleaseFreeze shop/year-end: spec.start: must be an RFC 3339 time with an offset, such as 2026-12-20T00:00:00+01:00 (got "2026-12-20 00:00")',
    ]);
    expect(
      lintText(
        freeze(`  start: "2027-01-03T00:00:00Z"
  end: "2026-12-20T00:00:00Z"
`),
      ),
    ).toEqual([
      'w.yaml#1 ReleaseFreeze shop/year-end: spec.end: must be after start (2027-01-03T00:00:00Z >= 2026-12-20T00:00:00Z)',
    ]);
  });
});

describe('the generated CRD schemas agree with zod on the new fields', () => {
  const schemaOf = (kind: string) => {
    const crd = buildCrds().find((c) => (c.spec.names as { kind: string }).kind === kind)!;
    return (crd.spec.versions as { schema: { openAPIV3Schema: Record<string, unknown> } }[])[0]!.schema
      .openAPIV3Schema;
  };

  it('accepts a Canary with release windows as written and after defaulting', () => {
    const input = {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'Canary',
      metadata: { name: 'checkout', namespace: 'shop' },
      spec: {
        targetRef: { kind: 'Deployment', name: 'checkout' },
        service: { port: 8080 },
        releaseWindows: {
          outside: 'Rollback',
          windows: [
            { schedule: '0 9 * * 1-5', duration: '8h', timeZone: 'Europe/Berlin' },
            { schedule: '@daily', duration: '1h', appliesTo: ['Start'] },
          ],
        },
      },
    };
    const result = validateCanary(input);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(validateAgainstCrdSchema(schemaOf('Canary'), input)).toEqual([]);
    expect(validateAgainstCrdSchema(schemaOf('Canary'), result.value)).toEqual([]);
  });

  it('accepts a ReleaseFreeze with every field, and refuses a time without an offset', () => {
    const input = {
      apiVersion: 'petrel.dev/v1alpha1',
      kind: 'ReleaseFreeze',
      metadata: { name: 'year-end', namespace: 'shop' },
      spec: {
        selector: {
          matchLabels: { team: 'payments' },
          matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['batch'] }],
        },
        start: '2026-12-20T00:00:00+01:00',
        end: '2027-01-03T00:00:00.000Z',
        reason: 'year-end change freeze',
      },
    };
    expect(validateReleaseFreeze(input).ok).toBe(true);
    expect(validateAgainstCrdSchema(schemaOf('ReleaseFreeze'), input)).toEqual([]);
    const noOffset = { ...input, spec: { ...input.spec, end: '2027-01-03T00:00:00' } };
    expect(validateAgainstCrdSchema(schemaOf('ReleaseFreeze'), noOffset)).not.toEqual([]);
  });
});
