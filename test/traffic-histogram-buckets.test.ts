import { describe, expect, it } from 'vitest';
import { ISTIO_DURATION_BUCKETS_MS } from '../dev/sandbox/istio-metrics.ts';
import { durationBuckets, ISTIO_BUCKETS_ANNOTATION } from '../dev/sandbox/traffic/histogram-buckets.ts';
import { seededRandom, simulateTick } from '../dev/sandbox/traffic.ts';

const annotated = (value: string) => ({ [ISTIO_BUCKETS_ANNOTATION]: value });

describe('the sidecar.istio.io/statsHistogramBuckets annotation in the simulator', () => {
  it("without it: Istio's default buckets, no problem", () => {
    expect(durationBuckets(undefined)).toEqual({ bucketsMs: ISTIO_DURATION_BUCKETS_MS });
    expect(durationBuckets({ other: 'x' })).toEqual({ bucketsMs: ISTIO_DURATION_BUCKETS_MS });
  });

  it('the longest matching metric prefix wins, bounds sorted and deduplicated', () => {
    const value = JSON.stringify({
      istiocustom: [1, 2, 3],
      'istiocustom.istio_request_duration_milliseconds': [100, 50, 50, 75],
      'cluster.xds-grpc': [9],
    });
    expect(durationBuckets(annotated(value))).toEqual({ bucketsMs: [50, 75, 100] });
    expect(durationBuckets(annotated('{"istiocustom":[5,10]}'))).toEqual({ bucketsMs: [5, 10] });
    // A prefix for other metrics only leaves the duration histogram alone.
    expect(durationBuckets(annotated('{"cluster.xds-grpc":[1,5,10]}'))).toEqual({
      bucketsMs: ISTIO_DURATION_BUCKETS_MS,
    });
  });

  it.each([
    ['not JSON', '[1,2', /not JSON/],
    ['a list, not an object', '[1,2]', /JSON object/],
    ['a bound that is not a positive number', '{"istiocustom":[10,"20"]}', /positive numbers/],
    ['an empty list', '{"istiocustom":[]}', /positive numbers/],
    ['a negative bound', '{"istiocustom":[-1, 5]}', /positive numbers/],
  ])('%s: reported with the fix, defaults kept', (_name, value, message) => {
    const parsed = durationBuckets(annotated(value));
    expect(parsed.bucketsMs).toBe(ISTIO_DURATION_BUCKETS_MS);
    expect(parsed.problem).toMatch(message);
    expect(parsed.problem).toContain(ISTIO_BUCKETS_ANNOTATION);
  });

  it("a tick carries each workload's own buckets", () => {
    const [fine, plain] = simulateTick({
      targets: [
        {
          namespace: 'n',
          workload: 'a',
          service: 's',
          share: 0.5,
          annotations: annotated('{"istiocustom":[10,20]}'),
        },
        { namespace: 'n', workload: 'b', service: 's', share: 0.5, annotations: {} },
      ],
      rps: 10,
      elapsedMs: 1000,
      random: seededRandom(1),
    });
    expect(fine?.durationBucketsMs).toEqual([10, 20]);
    expect(plain?.durationBucketsMs).toBe(ISTIO_DURATION_BUCKETS_MS);
  });
});
