import { z } from 'zod';
import { intAtLeast } from './common.ts';
import { CANARY_DEFAULTS } from './constants.ts';

/** spec.analysis.sessionAffinity (Flagger's): a user who reached the canary stays on it, by cookie. */
export const sessionAffinitySchema = z.strictObject({
  cookieName: z
    .string()
    .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, {
      error: "must be a cookie name (letters, digits and !#$%&'*+-.^_`|~, no spaces, = or ;)",
    })
    .describe('Name of the cookie set on responses from the canary.'),
  maxAge: intAtLeast(1)
    .describe('Seconds the cookie lives (default 86400, a day).')
    .default(CANARY_DEFAULTS.sessionAffinityMaxAge),
});
