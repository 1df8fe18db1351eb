import { petrelVersionOrUnknown } from '../lib/version.ts';

export const PETREL_VERSION = petrelVersionOrUnknown();

/**
 * The User-Agent of every request Petrel sends to the API server, so audit logs name it and its
 * version: `petrel/0.1.0`, or `petrel/0.1.0 (petrel-controller)` when a component is named.
 */
export function userAgent(component?: string): string {
  return component ? `petrel/${PETREL_VERSION} (${component})` : `petrel/${PETREL_VERSION}`;
}
