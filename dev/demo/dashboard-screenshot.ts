// Takes the README's screenshot of petrel dashboard (docs/images/dashboard.png) beside the demo:
//   npx tsx dev/demo/dashboard-screenshot.ts [OUTPUT.png] [SCENARIO]
// Runs one release of the demo (healthy by default) with the dashboard and shoots the page once it ended.
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import type { DemoEvent } from './events.ts';
import { runDemo } from './run.ts';
import { isScenarioName } from './scenarios.ts';
import { DemoAbortedError } from './wait.ts';

const output = process.argv[2] ?? fileURLToPath(new URL('../../docs/images/dashboard.png', import.meta.url));
const scenario = process.argv[3] ?? 'healthy';
if (!isScenarioName(scenario)) throw new Error(`unknown scenario "${scenario}"`);
const abort = new AbortController();
let url: string | undefined;
let shot: Promise<void> | undefined;

async function screenshot(page: string): Promise<void> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const tab = await browser.newPage({ viewport: { width: 1200, height: 860 } });
    await tab.goto(page);
    await tab.locator('#detail [data-field="phase"]', { hasText: /Succeeded|Failed/ }).waitFor();
    await tab.screenshot({ path: output });
    console.log(`screenshot written to ${output}`);
  } finally {
    await browser.close();
  }
}

const reporter = {
  emit(event: DemoEvent) {
    if (event.type === 'setup' && event.step === 'dashboard') url = event.detail.split(' ')[0];
    if (event.type === 'outcome' && url) {
      shot = screenshot(url).finally(() => abort.abort());
    }
  },
};

try {
  await runDemo({
    scenario,
    rps: 100,
    keep: true,
    dashboard: true,
    reporter,
    logger: pino({ level: 'silent' }),
    signal: abort.signal,
  });
} catch (err) {
  if (!(err instanceof DemoAbortedError)) throw err;
}
await shot;
