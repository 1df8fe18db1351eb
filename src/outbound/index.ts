/**
 * Calls Petrel makes to endpoints outside the cluster (webhooks, chat alerts): a JSON POST with a capped
 * answer and one timeout, retries with backoff, errors that never carry the URL, and the outbound proxy.
 * webhooks/ and notifiers/ both build on it; it depends on nothing but lib/.
 */
export { HookCallError, type HookErrorCode } from './errors.ts';
export { DEFAULT_MAX_RESPONSE_BYTES, type PostJsonOptions, type PostJsonResult, postJson } from './post.ts';
export {
  OutboundProxy,
  ProxyConfigError,
  type ProxySettings,
  ProxyTunnelError,
  proxyFromEnv,
} from './proxy.ts';
export { RetriesExhaustedError, withRetries } from './retry.ts';
