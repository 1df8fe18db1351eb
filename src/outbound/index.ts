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
