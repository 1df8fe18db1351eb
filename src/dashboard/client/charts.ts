import type uPlot from 'uplot';
import type { CheckSeries, WeightPoint } from '../view.ts';

/**
 * Browser code (see client/script.ts): the weight timeline and one chart per check, drawn with uPlot.
 * A chart is created once per element and given new data on every change, so updates do not flicker.
 */
export function chartsModule(UPlot: typeof uPlot) {
  const charts = new Map<HTMLElement, { chart: uPlot; shape: string }>();
  const INK = '#1f2937';
  const GRID = '#e5e7eb';

  function axes(unit: string): uPlot.Axis[] {
    return [
      { stroke: INK, grid: { stroke: GRID } },
      {
        stroke: INK,
        grid: { stroke: GRID },
        size: 56,
        values: (_u: uPlot, ticks: number[]) => ticks.map((t) => `${+t.toFixed(3)}${unit}`),
      },
    ];
  }

  /** The release's time span (s), shared by every chart so their time axes line up. */
  let span: [number, number] | undefined;

  function setSpan(times: number[]): void {
    span = times.length > 0 ? [Math.min(...times) / 1000, Math.max(...times) / 1000] : undefined;
  }

  /** Time axis: padded by at least 5 s each side, so one point does not stretch it over years. */
  function timeRange(_u: uPlot, dataMin: number, dataMax: number): uPlot.Range.MinMax {
    const [min, max] = span ?? [dataMin, dataMax];
    const pad = Math.max(5, (max - min) * 0.05);
    return [min - pad, max + pad];
  }

  function valueRange(_u: uPlot, min: number, max: number): uPlot.Range.MinMax {
    const pad = Math.max(Math.abs(max - min) * 0.1, Math.abs(max) * 0.01, 0.5);
    return [min - pad, max + pad];
  }

  window.addEventListener('resize', () => {
    for (const [el, { chart }] of charts) {
      if (el.isConnected) chart.setSize({ width: width(el), height: chart.height });
      else {
        chart.destroy();
        charts.delete(el);
      }
    }
  });

  function draw(el: HTMLElement, opts: uPlot.Options, data: uPlot.AlignedData, shape: string): void {
    for (const [other, { chart }] of charts) {
      if (!other.isConnected) {
        chart.destroy();
        charts.delete(other);
      }
    }
    const existing = charts.get(el);
    if (existing && existing.shape === shape) {
      existing.chart.setData(data);
      return;
    }
    existing?.chart.destroy();
    el.textContent = '';
    charts.set(el, { chart: new UPlot(opts, data, el), shape });
  }

  function width(el: HTMLElement): number {
    return Math.max(280, Math.min(900, el.clientWidth || 560));
  }

  function empty(el: HTMLElement, message: string): void {
    charts.get(el)?.chart.destroy();
    charts.delete(el);
    el.textContent = message;
  }

  /** A step line of the canary weight, one point per step of the release. */
  function weightChart(el: HTMLElement, points: WeightPoint[]): void {
    el.dataset.points = String(points.length);
    el.setAttribute(
      'aria-label',
      points.length === 0
        ? 'Canary weight: no step in this release yet'
        : `Canary weight at each step of this release: ${points.map((p) => `${p.weight}%`).join(', ')}`,
    );
    if (points.length === 0) {
      empty(el, 'No step in this release yet.');
      return;
    }
    const opts: uPlot.Options = {
      width: width(el),
      height: 180,
      legend: { live: false },
      scales: { x: { time: true, range: timeRange }, y: { range: [0, 100] } },
      axes: axes('%'),
      series: [
        {},
        {
          label: 'canary weight',
          stroke: '#1d4ed8',
          width: 2,
          points: { show: true, size: 7 },
          paths: UPlot.paths.stepped?.({ align: 1 }),
          value: (_u: uPlot, v: number | null) => (v === null ? '-' : `${v}%`),
        },
      ],
    };
    draw(el, opts, [points.map((p) => p.time / 1000), points.map((p) => p.weight)], 'weight');
  }

  /** One check's values over the release: the canary, the primary when the status has it, the thresholds. */
  function checkChart(el: HTMLElement, check: CheckSeries): void {
    const points = check.points;
    el.dataset.points = String(points.length);
    const latest = points.at(-1);
    el.setAttribute(
      'aria-label',
      latest
        ? `${check.metric}: ${points.length} checks, latest ${latest.value ?? 'no value'} (${latest.verdict})`
        : `${check.metric}: not checked in this release yet`,
    );
    if (points.length === 0) {
      empty(el, 'Not checked in this release yet.');
      return;
    }
    const xs = points.map((p) => p.time / 1000);
    const series: uPlot.Series[] = [
      {},
      {
        label: 'canary',
        stroke: '#b45309',
        width: 2,
        points: { show: true, size: 6 },
      },
    ];
    const data: (number | null)[][] = [xs, points.map((p) => p.value ?? null)];
    const comparing = points.some((p) => p.primary !== undefined);
    if (comparing) {
      series.push({ label: 'primary', stroke: '#047857', width: 2, points: { show: true, size: 5 } });
      data.push(points.map((p) => p.primary ?? null));
    }
    if (points.some((p) => p.verdict === 'fail')) {
      // Failed checks as red marks over the canary's line, without a line of their own.
      series.push({
        label: 'failed',
        stroke: '#b91c1c',
        fill: '#b91c1c',
        width: 0,
        paths: () => null,
        points: { show: true, size: 9, fill: '#b91c1c' },
      });
      data.push(points.map((p) => (p.verdict === 'fail' ? (p.value ?? null) : null)));
    }
    for (const [label, limit] of [
      ['min', check.min],
      ['max', check.max],
    ] as const) {
      if (limit === undefined) continue;
      series.push({
        label: `threshold ${label}`,
        stroke: '#6b7280',
        width: 1,
        dash: [6, 4],
        points: { show: false },
      });
      data.push(xs.map(() => limit));
    }
    const opts: uPlot.Options = {
      width: width(el),
      height: 180,
      legend: { live: false },
      scales: { x: { time: true, range: timeRange }, y: { range: valueRange } },
      axes: axes(''),
      series,
    };
    draw(el, opts, data as uPlot.AlignedData, series.map((s) => s.label).join(','));
  }

  return { setSpan, weightChart, checkChart };
}

export type Charts = ReturnType<typeof chartsModule>;
