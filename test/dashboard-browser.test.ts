import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../dev/sandbox/apiserver/kubeconfig.ts';
import { requestAction } from '../src/dashboard/actions.ts';
import { startDashboard } from '../src/dashboard/dashboard.ts';
import { startDashboardServer } from '../src/dashboard/server.ts';
import type { Health } from '../src/dashboard/state.ts';
import { type CanaryObject, canaryView } from '../src/dashboard/view.ts';
import { createKubeApi } from '../src/kube/client.ts';
import { ResilientInformer } from '../src/kube/informer.ts';
import { RESOURCES } from '../src/kube/resources.ts';
import { MANUAL_ACTIONS } from '../src/rollout/index.ts';
import {
  createNamespace,
  getCanary,
  podinfoCanary,
  podinfoDeployment,
  runController,
  setImage,
  TrafficLoop,
  testLogger,
  useE2e,
  waitFor,
  waitForPhase,
} from './support/e2e.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS =
  process.env.PETREL_TEST_ARTIFACTS ?? fileURLToPath(new URL('./artifacts/', import.meta.url));
const README_SCREENSHOT = fileURLToPath(new URL('../docs/images/dashboard.png', import.meta.url));

const env = useE2e({ deploymentReadyDelayMs: 300 });

/** What the page showed, recorded in the page at each change of the DOM (browser and test share a clock). */
interface Seen {
  time: number;
  weight: number;
  points: number;
  phase: string;
}

declare global {
  interface Window {
    petrelSeen: Seen[];
  }
}

/** Installed before the page's own script: records each change of the shown weight and chart. */
function recordShownWeights(): void {
  window.petrelSeen = [];
  const record = () => {
    const cell = document.querySelector('#detail [data-field="weight"]');
    if (!cell) return;
    const chart = document.querySelector<HTMLElement>('[data-chart="weight"]');
    const seen: Seen = {
      time: Date.now(),
      weight: Number.parseInt(cell.textContent ?? '', 10),
      points: Number(chart?.dataset.points ?? -1),
      phase: document.querySelector('#detail [data-field="phase"]')?.textContent ?? '',
    };
    const last = window.petrelSeen.at(-1);
    if (!last || last.weight !== seen.weight || last.points !== seen.points || last.phase !== seen.phase) {
      window.petrelSeen.push(seen);
    }
  };
  document.addEventListener('DOMContentLoaded', () => {
    new MutationObserver(record).observe(document.body, {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
    });
  });
}

/** WCAG contrast of every visible text against the first opaque background behind it. */
function lowContrastTexts(): string[] {
  const parse = (css: string) => {
    const parts = (/rgba?\(([^)]+)\)/.exec(css)?.[1] ?? '0 0 0 0')
      .split(/[\s,/]+/)
      .filter(Boolean)
      .map(Number);
    return { r: parts[0] ?? 0, g: parts[1] ?? 0, b: parts[2] ?? 0, a: parts[3] ?? 1 };
  };
  const luminance = (c: { r: number; g: number; b: number }) => {
    const f = (v: number) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (el: Element | null) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const low: string[] = [];
  for (const el of document.querySelectorAll('body *')) {
    const text = [...el.childNodes]
      .filter((n) => n.nodeType === Node.TEXT_NODE)
      .map((n) => n.textContent ?? '')
      .join('')
      .trim();
    if (!text || el.getClientRects().length === 0 || getComputedStyle(el).visibility === 'hidden') continue;
    const fg = luminance(parse(getComputedStyle(el).color));
    const bg = luminance(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) low.push(`${el.tagName} "${text.slice(0, 30)}": ${ratio.toFixed(2)}`);
  }
  return low;
}

/** Controls without an accessible name, and form fields without a label. */
function unlabelled(): string[] {
  const missing: string[] = [];
  for (const b of document.querySelectorAll('button, a[href], [role="img"]')) {
    const name = b.getAttribute('aria-label') ?? b.textContent ?? '';
    if (!name.trim()) missing.push(b.outerHTML.slice(0, 80));
  }
  for (const input of document.querySelectorAll<HTMLInputElement>('input, select, textarea')) {
    if (input.labels?.length === 0 && !input.getAttribute('aria-label'))
      missing.push(input.outerHTML.slice(0, 80));
  }
  if (!document.documentElement.lang) missing.push('<html> without lang');
  return missing;
}

/** Presses Tab until focus comes round again (at most 60 times); returns what got focus, in order. */
async function tabOrder(page: Page): Promise<string[]> {
  const order: string[] = [];
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return '';
      return el.getAttribute('data-action') ?? `${el.tagName.toLowerCase()}:${el.textContent?.trim() ?? ''}`;
    });
    if (order.length > 0 && focused === order[0]) break;
    order.push(focused);
  }
  return order;
}

async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium; .ci/run does)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

describe('petrel dashboard in Chromium', () => {
  let browser: Browser;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  }, 60_000);

  it('follows a rollout live, pauses and resumes it with confirmation, and passes basic accessibility checks', async () => {
    const ns = 'dash-browser';
    await createNamespace(env.api, ns);
    const traffic = new TrafficLoop(env.prometheusUrl, ns);
    traffic.start();
    cleanups.push(() => traffic.stop());
    await env.api.create(RESOURCES.deployment, podinfoDeployment(ns, 'podinfo:1.0'));
    const controller = runController(env, ns, testLogger().logger);
    cleanups.push(() => controller.stop());
    await controller.ready;
    await env.api.create(RESOURCES.canary, podinfoCanary(ns));
    await waitForPhase(env.api, ns, ['Initialized']);

    const dashboard = await startDashboard({ kubeConfig: env.sandbox.kubeConfig(), namespace: ns, port: 0 });
    cleanups.push(() => dashboard.stop());
    await dashboard.waitForSync();

    // The test's own watch: when each weight reached the API (the reference for the page's delay).
    const statusWeights: { time: number; weight: number }[] = [];
    const watchApi = createKubeApi({ kubeConfig: env.sandbox.kubeConfig(), userAgent: 'petrel-e2e' });
    const watch = new ResilientInformer<CanaryObject>({
      kubeConfig: env.sandbox.kubeConfig(),
      api: watchApi,
      resource: RESOURCES.canary,
      namespace: ns,
    });
    const onCanary = (c: CanaryObject) => {
      const weight = Number(c.status?.canaryWeight ?? 0);
      if (statusWeights.at(-1)?.weight !== weight) statusWeights.push({ time: Date.now(), weight });
    };
    watch.on('add', onCanary).on('update', onCanary);
    await watch.start();
    cleanups.push(async () => {
      await watch.stop();
      watchApi.close();
    });
    await watch.waitForSync();

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    cleanups.push(() => page.close());
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    await page.addInitScript(recordShownWeights);
    await page.goto(dashboard.url);
    await page.locator(`tr[data-key="${ns}/podinfo"]`).waitFor();
    expect(await page.locator(`tr[data-key="${ns}/podinfo"] [data-field="phase"]`).textContent()).toBe(
      'Initialized',
    );

    await setImage(env.api, ns, 'podinfo:2.0');
    await page.waitForFunction(
      () => document.querySelector('#detail [data-field="weight"]')?.textContent?.startsWith('20%'),
      undefined,
      { timeout: 30_000 },
    );

    // Accessibility, with the rollout's buttons enabled.
    expect(await page.evaluate(unlabelled)).toEqual([]);
    expect(await page.evaluate(lowContrastTexts)).toEqual([]);
    const order = await tabOrder(page);
    const enabled = await page.$$eval('button[data-action]:not(:disabled)', (bs) =>
      bs.map((b) => b.getAttribute('data-action')),
    );
    expect(enabled).toEqual(expect.arrayContaining(['promote', 'abort', 'pause']));
    for (const action of enabled) expect(order).toContain(action);

    // Pause with the keyboard only: Tab to the button, Enter, Tab to Confirm, Enter.
    await page.locator('body').focus();
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate(() => document.activeElement?.getAttribute('data-action'))) === 'pause') break;
    }
    await page.keyboard.press('Enter');
    await page.locator('dialog#confirm[open]').waitFor();
    expect(await page.locator('#confirm-text').textContent()).toContain(`Pause canary ${ns}/podinfo?`);
    expect(await page.evaluate(lowContrastTexts)).toEqual([]);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('confirm-ok');
    await page.keyboard.press('Enter');
    await page.locator('#message', { hasText: 'pause requested' }).waitFor();
    const paused = await waitFor('the Paused condition in the API', async () => {
      const c = await getCanary(env.api, ns);
      return c.status?.conditions?.some((x) => x.type === 'Paused' && x.status === 'True') ? c : undefined;
    });
    expect(paused.metadata?.annotations?.['petrel.dev/action']).toBe('pause');
    await page.locator('#detail [data-field="phase"]', { hasText: '(paused)' }).waitFor({ timeout: 1000 });

    // Resume with the mouse.
    await page.click('button[data-action="resume"]');
    await page.locator('dialog#confirm[open]').waitFor();
    await page.click('#confirm-ok');
    await waitFor('the Paused condition to go', async () => {
      const c = await getCanary(env.api, ns);
      return (
        !c.status?.conditions?.some((x) => x.type === 'Paused') &&
        !c.metadata?.annotations?.['petrel.dev/action']
      );
    });

    const done = await waitForPhase(env.api, ns, ['Succeeded', 'Failed']);
    expect(done.status?.phase).toBe('Succeeded');
    await page
      .locator(`tr[data-key="${ns}/podinfo"] [data-field="phase"]`, { hasText: 'Succeeded' })
      .waitFor();

    // Every weight the status took showed on the page within a second.
    const seen = await page.evaluate(() => window.petrelSeen);
    const release = statusWeights.slice(statusWeights.findIndex((s) => s.weight > 0));
    expect(release.map((s) => s.weight)).toEqual([10, 20, 30, 40, 50, 0]);
    const delays = release.map((s) => {
      const shown = seen.find((p) => p.weight === s.weight && p.time >= s.time - 1000);
      return shown ? shown.time - s.time : Number.POSITIVE_INFINITY;
    });
    console.log(`dashboard: delay from status to page per step (ms): ${delays.join(', ')}`);
    for (const delay of delays) expect(delay).toBeLessThan(1000);

    // The weight chart has one point per step: at each weight shown, as many points as steps so far.
    const steps = release.map((s) => s.weight);
    for (const shown of seen.filter((s) => s.points > 0)) expect(steps[shown.points - 1]).toBe(shown.weight);
    expect(await page.getAttribute('[data-chart="weight"]', 'data-points')).toBe(String(steps.length));
    expect(await page.getAttribute('[data-chart="weight"]', 'aria-label')).toContain(
      '10%, 20%, 30%, 40%, 50%, 0%',
    );
    expect(
      Number(await page.getAttribute('[data-chart="check:request-success-rate"]', 'data-points')),
    ).toBeGreaterThan(0);

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`dashboard: screenshot written to ${shot}`);
    if (process.env.PETREL_UPDATE_SCREENSHOT === '1')
      await page.screenshot({ path: README_SCREENSHOT, fullPage: true });
    expect(consoleErrors).toEqual([]);
  }, 120_000);

  it("shows the API server's 403 as a sentence on the page", async () => {
    // A stand-in API server that refuses every write, as RBAC would for a read-only user.
    const apiServer: Server = createServer((req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: `canaries.petrel.dev "podinfo" is forbidden: User "viewer" cannot patch resource "canaries" in the namespace "prod"`,
          reason: 'Forbidden',
          code: 403,
        }),
      );
      req.resume();
    });
    await new Promise<void>((resolve) => apiServer.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => apiServer.close(() => resolve())));
    const api = createKubeApi({
      kubeConfig: kubeConfigFor(`http://127.0.0.1:${(apiServer.address() as AddressInfo).port}`),
    });
    cleanups.push(async () => api.close());
    const view = canaryView(
      {
        ...(podinfoCanary('prod') as unknown as CanaryObject),
        status: { phase: 'Progressing', canaryWeight: 30 },
      },
      { timeline: [{ time: Date.now(), weight: 30 }], checks: new Map() },
      [],
    );
    const source = {
      snapshot: () => [view],
      health: (): Health => ({ ok: true }),
      on: () => source,
      off: () => source,
    };
    const server = await startDashboardServer({
      port: 0,
      source,
      act: (request) => requestAction(api, request, 'viewer', new Date()),
      actions: MANUAL_ACTIONS,
      scope: 'test',
    });
    cleanups.push(() => server.stop());
    const page = await browser.newPage();
    cleanups.push(() => page.close());
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(server.url);
    // One button per manual action the controller knows (a new one, such as retry, appears by itself).
    await page.locator('button[data-action]').first().waitFor();
    expect(
      await page.$$eval('button[data-action]', (bs) => bs.map((b) => b.getAttribute('data-action'))),
    ).toEqual([...MANUAL_ACTIONS]);
    await page.click('button[data-action="abort"]');
    await page.click('#confirm-ok');
    const alert = page.locator('#message[role="alert"]');
    await alert.waitFor();
    const text = await alert.textContent();
    expect(text).toContain('abort refused: your kubeconfig user (viewer) may not patch Canary prod/podinfo');
    expect(text).toContain('cannot patch resource "canaries"');
    expect(await page.evaluate(lowContrastTexts)).toEqual([]);
    expect(await page.evaluate(unlabelled)).toEqual([]);
    // The checks themselves see a problem: light grey text on white, and a button without a name.
    await page.evaluate(() => {
      const probe = document.createElement('p');
      probe.textContent = 'probe';
      probe.style.color = '#aaaaaa';
      document.body.append(probe, document.createElement('button'));
    });
    expect(await page.evaluate(lowContrastTexts)).toEqual(['P "probe": 2.32']);
    expect(await page.evaluate(unlabelled)).toEqual(['<button></button>']);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
