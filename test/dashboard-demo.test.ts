import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseDemoArgs } from '../dev/cli/demo.ts';
import type { DemoEvent } from '../dev/demo/events.ts';
import { runDemo } from '../dev/demo/run.ts';
import { DemoAbortedError } from '../dev/demo/wait.ts';
import type { CanaryView } from '../src/dashboard/view.ts';

describe('petrel demo --dashboard', () => {
  it('keeps the demo running so the page stays up', () => {
    expect(parseDemoArgs(['--dashboard'])).toMatchObject({ dashboard: true, keep: true });
    expect(parseDemoArgs([])).toMatchObject({ dashboard: false, keep: false });
  });

  it("serves the dashboard on the demo's sandbox, prints its URL, and shows the demo's canary in a release", async () => {
    const abort = new AbortController();
    const events: DemoEvent[] = [];
    let seen: CanaryView[] | undefined;
    let check: Promise<void> | undefined;
    const reporter = {
      emit(event: DemoEvent) {
        events.push(event);
        const url = events
          .flatMap((e) => (e.type === 'setup' && e.step === 'dashboard' ? [e.detail.split(' ')[0]] : []))
          .at(0);
        if (event.type === 'weight' && event.weight > 0 && url && !check) {
          check = fetch(new URL('/api/canaries', url))
            .then(async (res) => {
              seen = (await res.json()) as CanaryView[];
            })
            .finally(() => abort.abort());
        }
      },
    };
    try {
      await runDemo({
        scenario: 'healthy',
        rps: 50,
        keep: true,
        dashboard: true,
        reporter,
        logger: pino({ level: 'silent' }),
        signal: abort.signal,
        releaseTimeoutMs: 60_000,
      });
    } catch (err) {
      if (!(err instanceof DemoAbortedError)) throw err;
    }
    await check;
    const setup = events.find((e) => e.type === 'setup' && e.step === 'dashboard');
    expect(setup).toMatchObject({ detail: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/ /) });
    expect(seen?.map((v) => [v.key, v.phase])).toEqual([['demo/podinfo', 'Progressing']]);
  }, 90_000);
});
