import type { CanaryView } from '../view.ts';
import type { Render } from './render.ts';

/** What the server writes into the page for the script (see page.ts). */
export interface Boot {
  token: string;
  tokenHeader: string;
  actions: string[];
  scope: string;
}

/**
 * Browser code (see client/script.ts): follows the server-sent events, keeps the table and the selected
 * canary's detail up to date, and sends the buttons' actions after a confirmation.
 */
export function appModule(boot: Boot, render: Render) {
  const views = new Map<string, CanaryView>();
  const rows = document.getElementById('canary-rows') as HTMLElement;
  const emptyNote = document.getElementById('no-canaries') as HTMLElement;
  const detailSlot = document.getElementById('detail') as HTMLElement;
  const connection = document.getElementById('connection') as HTMLElement;
  const message = document.getElementById('message') as HTMLElement;
  const dialog = document.getElementById('confirm') as HTMLDialogElement;
  const dialogText = document.getElementById('confirm-text') as HTMLElement;
  const dialogOk = document.getElementById('confirm-ok') as HTMLButtonElement;
  let detail: ReturnType<Render['buildDetail']> | undefined;
  let pending: { action: string; view: CanaryView } | undefined;

  function selectedKey(): string | undefined {
    let hash = '';
    try {
      hash = decodeURIComponent(location.hash.slice(1));
    } catch {
      // A hand-edited, malformed hash selects nothing in particular.
    }
    if (hash && views.has(hash)) return hash;
    return views.keys().next().value;
  }

  function show(): void {
    const now = Date.now();
    const sorted = [...views.values()].sort((a, b) => a.key.localeCompare(b.key));
    const key = selectedKey();
    render.renderList(rows, sorted, key, now);
    emptyNote.hidden = sorted.length > 0;
    const view = key ? views.get(key) : undefined;
    if (!view) {
      detail = undefined;
      detailSlot.replaceChildren();
      return;
    }
    if (detail?.key !== view.key) {
      detail = render.buildDetail(view, boot.actions, ask);
      detailSlot.replaceChildren(detail.root);
    }
    detail.update(view, now);
  }

  function say(text: string, error: boolean): void {
    message.textContent = text;
    message.className = error ? 'message error' : 'message';
    message.setAttribute('role', error ? 'alert' : 'status');
  }

  const WHAT: Record<string, string> = {
    promote: 'The rest of the analysis is skipped and the canary is promoted now.',
    abort: 'The rollout is rolled back at once: all traffic to the primary, phase Failed.',
    pause: 'The rollout holds where it is until it is resumed.',
    resume: 'A paused rollout continues.',
    retry: 'The failed rollout of the same revision starts again.',
  };

  function ask(action: string, view: CanaryView): void {
    pending = { action, view };
    dialogText.textContent =
      `${action[0]!.toUpperCase()}${action.slice(1)} canary ${view.namespace}/${view.name}? ${WHAT[action] ?? ''} ` +
      "The request is sent with your kubeconfig's permissions.";
    dialogOk.textContent = `${action[0]!.toUpperCase()}${action.slice(1)}`;
    // Escape closes the dialog without changing returnValue: clear what the last confirmation left.
    dialog.returnValue = '';
    dialog.showModal();
  }

  async function send(action: string, view: CanaryView): Promise<void> {
    const path = `/api/canaries/${encodeURIComponent(view.namespace)}/${encodeURIComponent(view.name)}/actions/${encodeURIComponent(action)}`;
    try {
      const res = await fetch(path, { method: 'POST', headers: { [boot.tokenHeader]: boot.token } });
      const body = (await res.json().catch(() => ({}))) as { message?: string };
      say(body.message ?? `${action}: HTTP ${res.status}`, !res.ok);
    } catch (err) {
      say(`${action} could not reach the dashboard server: ${(err as Error).message}`, true);
    }
  }

  dialog.addEventListener('close', () => {
    const chosen = pending;
    pending = undefined;
    if (dialog.returnValue === 'confirm' && chosen) void send(chosen.action, chosen.view);
  });

  const stream = new EventSource('/api/stream');
  stream.addEventListener('snapshot', (e) => {
    views.clear();
    for (const view of JSON.parse((e as MessageEvent<string>).data) as CanaryView[])
      views.set(view.key, view);
    show();
  });
  stream.addEventListener('canary', (e) => {
    const { key, view } = JSON.parse((e as MessageEvent<string>).data) as {
      key: string;
      view: CanaryView | null;
    };
    if (view) views.set(key, view);
    else views.delete(key);
    show();
  });
  stream.addEventListener('health', (e) => {
    const health = JSON.parse((e as MessageEvent<string>).data) as { ok: boolean; message?: string };
    connection.textContent = health.ok ? `Live: ${boot.scope}` : (health.message ?? 'the watch failed');
    connection.className = health.ok ? 'connection' : 'connection error';
  });
  stream.addEventListener('open', () => {
    connection.textContent = `Live: ${boot.scope}`;
    connection.className = 'connection';
  });
  stream.addEventListener('error', () => {
    connection.textContent = 'Disconnected from petrel dashboard: reconnecting…';
    connection.className = 'connection error';
  });
  window.addEventListener('hashchange', show);
  setInterval(() => render.refreshAges(document.body, Date.now()), 5000);
}
