import type { CanaryView } from '../view.ts';
import type { Charts } from './charts.ts';

/**
 * Browser code (see client/script.ts): the canary table and the detail of one canary. Text from the
 * cluster only ever goes into `textContent`, never into markup. The detail is built once per canary and
 * then updated in place, so focus, an open dialog and the charts survive every change.
 */
export function renderModule(charts: Charts) {
  const ROLLOUT = ['Waiting', 'Progressing', 'WaitingPromotion'];

  function el<K extends keyof HTMLElementTagNameMap>(
    tag: K,
    attrs: Record<string, string> = {},
    ...children: (Node | string)[]
  ): HTMLElementTagNameMap[K] {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    node.append(...children);
    return node;
  }

  function age(iso: string | undefined, now: number): string {
    const at = iso ? Date.parse(iso) : Number.NaN;
    if (!Number.isFinite(at)) return '-';
    const s = Math.max(0, Math.floor((now - at) / 1000));
    if (s < 120) return `${s}s`;
    if (s < 7200) return `${Math.floor(s / 60)}m`;
    if (s < 172800) return `${Math.floor(s / 3600)}h`;
    return `${Math.floor(s / 86400)}d`;
  }

  /** A timestamp as the reader's local time of day, with the date when it is not today. */
  function when(iso: string | undefined): string {
    const at = iso ? new Date(iso) : undefined;
    if (!at || Number.isNaN(at.getTime())) return '';
    const time = at.toLocaleTimeString([], { hour12: false });
    return at.toDateString() === new Date().toDateString() ? time : `${at.toLocaleDateString()} ${time}`;
  }

  function phaseText(view: CanaryView): string {
    return view.paused ? `${view.phase} (paused)` : view.phase;
  }

  /** Whether a button makes sense now; an action this page does not know stays enabled. */
  function actionEnabled(action: string, view: CanaryView): boolean {
    switch (action) {
      case 'promote':
      case 'abort':
        return ROLLOUT.includes(view.phase);
      case 'pause':
        return !view.paused;
      case 'resume':
        return view.paused || (view.pendingAction ?? '').startsWith('pause');
      case 'retry':
        return view.phase === 'Failed';
      default:
        return true;
    }
  }

  function renderList(
    body: HTMLElement,
    views: CanaryView[],
    selected: string | undefined,
    now: number,
  ): void {
    const rows = views.map((view) => {
      const link = el('a', { href: `#${encodeURIComponent(view.key)}` }, view.name);
      if (view.key === selected) link.setAttribute('aria-current', 'true');
      return el(
        'tr',
        { 'data-key': view.key, class: view.key === selected ? 'selected' : '' },
        el('td', {}, link),
        el('td', {}, view.namespace),
        el('td', { 'data-field': 'phase', class: `phase phase-${view.phase}` }, phaseText(view)),
        el('td', { 'data-field': 'weight', class: 'number' }, `${view.weight}%`),
        el(
          'td',
          { 'data-field': 'age', 'data-since': view.createdAt ?? '', class: 'number' },
          age(view.createdAt, now),
        ),
      );
    });
    body.replaceChildren(...rows);
  }

  /** Refreshes every age on the page without a change from the cluster. */
  function refreshAges(root: HTMLElement, now: number): void {
    for (const cell of root.querySelectorAll<HTMLElement>('[data-since]')) {
      cell.textContent = age(cell.dataset.since || undefined, now);
    }
  }

  function table(caption: string, headings: string[], rows: string[][], emptyText: string): HTMLElement {
    if (rows.length === 0) return el('p', { class: 'muted' }, emptyText);
    return el(
      'table',
      {},
      el('caption', {}, caption),
      el('thead', {}, el('tr', {}, ...headings.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))),
    );
  }

  interface Detail {
    key: string;
    root: HTMLElement;
    update(view: CanaryView, now: number): void;
  }

  function buildDetail(
    view: CanaryView,
    actions: readonly string[],
    onAction: (action: string, view: CanaryView) => void,
  ): Detail {
    const title = el('h2', { id: 'detail-title' });
    const summary = el('dl', { class: 'summary' });
    let current = view;
    const buttons = actions.map((action) => {
      const button = el(
        'button',
        { type: 'button', 'data-action': action },
        action[0]!.toUpperCase() + action.slice(1),
      );
      button.addEventListener('click', () => onAction(action, current));
      return button;
    });
    const weightChart = el('div', { class: 'chart', role: 'img', 'data-chart': 'weight' });
    const noChecks = el('p', { class: 'muted' }, 'No checks configured.');
    const checks = el('div', { class: 'checks' }, noChecks);
    const gates = el('div');
    const conditions = el('div');
    const events = el('div');
    const root = el(
      'section',
      { 'aria-labelledby': 'detail-title', 'data-key': view.key },
      title,
      summary,
      el('div', { class: 'actions', role: 'group', 'aria-label': 'Actions' }, ...buttons),
      el('h3', {}, 'Weight over the release'),
      weightChart,
      el('h3', {}, 'Checks over the release'),
      checks,
      el('h3', {}, 'Gates'),
      gates,
      el('h3', {}, 'Conditions'),
      conditions,
      el('h3', {}, 'Events'),
      events,
    );
    const checkCharts = new Map<string, HTMLElement>();

    function update(next: CanaryView, now: number): void {
      current = next;
      title.textContent = `${next.namespace}/${next.name}`;
      const facts: [string, string, string][] = [
        ['phase', 'Phase', phaseText(next)],
        [
          'weight',
          'Weight',
          `${next.weight}%${next.maxWeight !== undefined ? ` of ${next.maxWeight}%` : ''}`,
        ],
        [
          'failed',
          'Failed checks',
          `${next.failedChecks}${next.threshold !== undefined ? ` of ${next.threshold}` : ''}`,
        ],
        ['target', 'Target', next.target],
        ['revision', 'Revision', next.revision ? next.revision.slice(0, 16) : '-'],
        ['pending', 'Requested', next.pendingAction ?? '-'],
      ];
      summary.replaceChildren(
        ...facts.flatMap(([field, label, value]) => [
          el('dt', {}, label),
          el('dd', { 'data-field': field }, value),
        ]),
        el('dt', {}, 'Age'),
        el('dd', { 'data-since': next.createdAt ?? '' }, age(next.createdAt, now)),
      );
      for (const button of buttons) {
        const action = button.dataset.action ?? '';
        button.disabled = !actionEnabled(action, next);
        button.setAttribute('aria-label', `${button.textContent} ${next.namespace}/${next.name}`);
      }
      charts.setSpan([...next.timeline, ...next.checks.flatMap((c) => c.points)].map((p) => p.time));
      charts.weightChart(weightChart, next.timeline);
      const seen = new Set<string>();
      for (const check of next.checks) {
        seen.add(check.metric);
        let chart = checkCharts.get(check.metric);
        if (!chart) {
          chart = el('div', { class: 'chart', role: 'img', 'data-chart': `check:${check.metric}` });
          const limits = [
            check.min !== undefined ? `min ${check.min}` : '',
            check.max !== undefined ? `max ${check.max}` : '',
            check.tolerance !== undefined ? `against the primary, tolerance ${check.tolerance}` : '',
          ]
            .filter(Boolean)
            .join(', ');
          checks.append(el('h4', {}, check.metric + (limits ? ` (${limits})` : '')), chart);
          checkCharts.set(check.metric, chart);
        }
        charts.checkChart(chart, check);
      }
      noChecks.hidden = next.checks.length > 0;
      for (const [metric, chart] of checkCharts) if (!seen.has(metric)) chart.dataset.points = '0';
      gates.replaceChildren(
        table(
          'Gates (webhooks that hold or stop the rollout)',
          ['Name', 'Type', 'URL'],
          next.gates.map((g) => [g.name, g.type, g.url ?? '']),
          'No gates: the rollout waits on nothing but its checks.',
        ),
      );
      conditions.replaceChildren(
        table(
          'Conditions',
          ['Type', 'Status', 'Reason', 'Message', 'Since'],
          next.conditions.map((c) => [c.type, c.status, c.reason ?? '', c.message ?? '', when(c.since)]),
          'No conditions yet.',
        ),
      );
      events.replaceChildren(
        table(
          'Events, newest first',
          ['Time', 'Type', 'Reason', 'Message', 'Count'],
          next.events.map((e) => [when(e.time), e.type, e.reason, e.message, String(e.count)]),
          'No events.',
        ),
      );
    }

    // The caller attaches `root` and then calls update, so the charts measure their real width.
    return { key: view.key, root, update };
  }

  return { el, renderList, refreshAges, buildDetail, actionEnabled };
}

export type Render = ReturnType<typeof renderModule>;
