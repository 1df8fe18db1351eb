import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The header the page sends the per-process token in; a cross-site form or image cannot set it. */
export const TOKEN_HEADER = 'x-petrel-token';

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Host names the server answers to. Anything else is refused, so a page that rebinds its own DNS name to
 * 127.0.0.1 (DNS rebinding) cannot read the dashboard or act through it.
 */
export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

export function hostAllowed(headers: IncomingHttpHeaders, hosts: Set<string>): boolean {
  return typeof headers.host === 'string' && hosts.has(headers.host.toLowerCase());
}

/**
 * Why a state-changing request is refused, or undefined when it may go on. It must carry the token from
 * the page (only a page served by this process knows it), and what the browser says of its origin must be
 * this server: `Origin` when sent, and `Sec-Fetch-Site: same-origin` when sent.
 */
export function refuseWrite(
  headers: IncomingHttpHeaders,
  hosts: Set<string>,
  token: string,
): string | undefined {
  const origin = headers.origin;
  if (origin !== undefined && !hosts.has(origin.replace(/^http:\/\//, '').toLowerCase())) {
    return `requests from ${origin} are not accepted: use the dashboard page itself`;
  }
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') {
    return 'cross-site requests are not accepted: use the dashboard page itself';
  }
  const sent = headers[TOKEN_HEADER];
  if (typeof sent !== 'string' || !sameToken(sent, token)) {
    return 'missing or wrong dashboard token: reload the page (the token changes when petrel dashboard restarts)';
  }
  return undefined;
}

function sameToken(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
