/**
 * Manual control of a rollout through annotations on the Canary, not its spec: Argo CD and Flux sync the
 * spec from Git and would undo a spec change, while an annotation they do not manage survives a sync.
 */
export const ACTION_ANNOTATION = 'petrel.dev/action';
export const ACTION_BY_ANNOTATION = 'petrel.dev/action-by';
export const ACTION_AT_ANNOTATION = 'petrel.dev/action-at';

export const MANUAL_ACTIONS = ['promote', 'abort', 'pause', 'resume', 'retry'] as const;
export type ManualActionType = (typeof MANUAL_ACTIONS)[number];

export interface ManualAction {
  action: ManualActionType;
  /** Who asked (a user or a tool), for the reason text; "unknown" when not given. */
  by: string;
  at?: string;
}

export type ManualActionRead = { ok: true; value: ManualAction | undefined } | { ok: false; message: string };

const MAX_BY_LENGTH = 128;

/** Reads the action annotations of a Canary; an unknown action is an error naming the allowed values. */
export function readManualAction(annotations: Record<string, string> | undefined): ManualActionRead {
  const raw = annotations?.[ACTION_ANNOTATION];
  if (raw === undefined || raw === '') return { ok: true, value: undefined };
  const action = raw.trim() as ManualActionType;
  if (!MANUAL_ACTIONS.includes(action)) {
    return {
      ok: false,
      message: `annotation ${ACTION_ANNOTATION} must be one of ${MANUAL_ACTIONS.join(', ')} (got ${JSON.stringify(raw.slice(0, 40))}): fix or remove it`,
    };
  }
  const by = cleanBy(annotations?.[ACTION_BY_ANNOTATION]);
  const at = annotations?.[ACTION_AT_ANNOTATION];
  return { ok: true, value: { action, by, ...(at ? { at } : {}) } };
}

/** The merge patch the CLI sends: sets the action, who and when. */
export function manualActionPatch(action: ManualActionType, by: string, now: Date) {
  return {
    metadata: {
      annotations: {
        [ACTION_ANNOTATION]: action,
        [ACTION_BY_ANNOTATION]: cleanBy(by),
        [ACTION_AT_ANNOTATION]: now.toISOString(),
      },
    },
  };
}

/** The merge patch the controller sends once it has carried out a one-shot action. */
export function clearManualActionPatch() {
  return {
    metadata: {
      annotations: { [ACTION_ANNOTATION]: null, [ACTION_BY_ANNOTATION]: null, [ACTION_AT_ANNOTATION]: null },
    },
  };
}

function cleanBy(by: string | undefined): string {
  const text = (by ?? '').replace(/[^\w.@:/+-]/g, '').slice(0, MAX_BY_LENGTH);
  return text || 'unknown';
}
