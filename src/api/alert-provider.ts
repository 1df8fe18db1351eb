import { z } from 'zod';
import { httpUrlSchema, objectMetaSchema, secretRefSchema } from './common.ts';
import { ALERT_PROVIDER_TYPES, PETREL_API_VERSION } from './constants.ts';
import { type ValidationResult, validateWith } from './issues.ts';

export const alertProviderSpecSchema = z
  .strictObject({
    type: z.enum(ALERT_PROVIDER_TYPES),
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
  return validateWith(alertProviderSchema, input);
}
