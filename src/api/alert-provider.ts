import { z } from 'zod';
import { httpUrlSchema, objectMetaSchema, secretRefSchema } from './common.ts';
import { ALERT_PROVIDER_TYPES, PETREL_API_VERSION } from './constants.ts';
import { ALERT_PROVIDER_HINTS, flaggerFieldMessage, NOT_SUPPORTED } from './flagger-compat.ts';
import { type ValidationResult, validateWith } from './issues.ts';

export const alertProviderSpecSchema = z
  .strictObject({
    type: z.enum(ALERT_PROVIDER_TYPES, {
      error: (issue) => {
        if (issue.input === undefined) return 'required';
        const hint = ALERT_PROVIDER_HINTS[String(issue.input)];
        return hint
          ? `${NOT_SUPPORTED}: alert provider type ${JSON.stringify(issue.input)}; ${hint}`
          : `must be one of ${ALERT_PROVIDER_TYPES.map((t) => JSON.stringify(t)).join(', ')} (got ${JSON.stringify(issue.input)})`;
      },
    }),
    address: httpUrlSchema
      .describe('Webhook URL. It is a credential for Slack, Teams and Discord: prefer secretRef.')
      .optional(),
    secretRef: secretRefSchema.describe('Secret holding the webhook URL under the key address.').optional(),
    channel: z.string().min(1).describe('Channel to post to, where the service supports it.').optional(),
    username: z.string().min(1).describe('Name the messages are posted as.').optional(),
  })
  .check((ctx) => {
    if (ctx.value.address === undefined && ctx.value.secretRef === undefined) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        path: ['address'],
        message: 'required: set address or secretRef (a Secret with the key "address")',
      });
    }
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'has(self.address) || has(self.secretRef)',
        message: 'set address or secretRef (a Secret with the key "address")',
        fieldPath: '.address',
        reason: 'FieldValueRequired',
      },
    ],
  });

export const alertProviderSchema = z.object({
  apiVersion: z.literal(PETREL_API_VERSION),
  kind: z.literal('AlertProvider'),
  metadata: objectMetaSchema,
  spec: alertProviderSpecSchema,
});

export type AlertProvider = z.output<typeof alertProviderSchema>;
export type AlertProviderInput = z.input<typeof alertProviderSchema>;
export type AlertProviderSpec = z.output<typeof alertProviderSpecSchema>;

export function validateAlertProvider(input: unknown): ValidationResult<AlertProvider> {
  return validateWith(alertProviderSchema, input, (path) => flaggerFieldMessage('AlertProvider', path));
}
