export type KubeApiErrorCode =
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'ALREADY_EXISTS'
  | 'INVALID'
  | 'FORBIDDEN'
  | 'UNAUTHORIZED'
  | 'TOO_MANY_REQUESTS'
  | 'SERVER_ERROR'
  | 'TIMEOUT'
  | 'NETWORK';

const TRANSIENT_CODES: ReadonlySet<KubeApiErrorCode> = new Set([
  'CONFLICT', // optimistic concurrency: re-read and try again
  'TOO_MANY_REQUESTS',
  'SERVER_ERROR',
  'TIMEOUT',
  'NETWORK',
]);

/** A failed Kubernetes API call. Decide on `code` / `isTransient`, never on the message. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  readonly code: KubeApiErrorCode;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly isTransient: boolean;
  /** The API server's `Status.reason` (e.g. `AlreadyExists`, `Invalid`) when it sent one. */
  readonly reason?: string;

  constructor(
    message: string,
    opts: {
      code: KubeApiErrorCode;
      status?: number;
      retryAfterMs?: number;
      reason?: string;
      cause?: unknown;
    },
  ) {
    super(message, { cause: opts.cause });
    this.code = opts.code;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
    this.reason = opts.reason;
    this.isTransient = TRANSIENT_CODES.has(opts.code);
  }
}

export function isKubeApiError(err: unknown, code?: KubeApiErrorCode): err is KubeApiError {
  return err instanceof KubeApiError && (code === undefined || err.code === code);
}
