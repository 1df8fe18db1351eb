import { request } from 'node:https';

/**
 * GET over HTTPS that answers whether the status was 200. `ca` verifies the server; without it the
 * certificate is not checked (the controller manager and scheduler serve self-signed health ports).
 */
export function httpsOk(
  url: string,
  opts: { ca?: string; token?: string; timeoutMs?: number } = {},
): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'GET',
        ca: opts.ca,
        rejectUnauthorized: opts.ca !== undefined,
        headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
        timeout: opts.timeoutMs ?? 2000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
