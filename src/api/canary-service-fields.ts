import { z } from 'zod';
import { dnsLabelSchema, freeFormObjectSchema, stringMapSchema } from './common.ts';

const serviceMetadataSchema = z.strictObject({
  labels: stringMapSchema.describe('Labels added to the Service.').optional(),
  annotations: stringMapSchema.describe('Annotations added to the Service.').optional(),
});
export type ServiceMetadata = z.output<typeof serviceMetadataSchema>;

/**
 * Fields of spec.service that Flagger users write, with the same meaning here. Spread into the service
 * schema; each one changes what the routers write (src/routers/services.ts and istio.ts).
 */
export const flaggerServiceFields = {
  name: dnsLabelSchema()
    .describe(
      'Name of the apex Service. Petrel names the Services after targetRef.name, so it must be that name.',
    )
    .optional(),
  appProtocol: z
    .string()
    .min(1)
    .describe('appProtocol of the Service port, e.g. http, grpc or kubernetes.io/h2c.')
    .optional(),
  portDiscovery: z
    .boolean()
    .describe(
      "Also expose every other container port of the target's pod template on the three Services (sidecars excluded).",
    )
    .optional(),
  rewrite: freeFormObjectSchema
    .describe('Istio HTTPRewrite of the VirtualService routes (uri, authority, uriRegexRewrite).')
    .optional(),
  delegation: z
    .boolean()
    .describe(
      'Write the VirtualService as an Istio delegate (no hosts, no gateways) for a root VirtualService to delegate to.',
    )
    .optional(),
  apex: serviceMetadataSchema.describe('Labels and annotations of the apex Service <target>.').optional(),
  primary: serviceMetadataSchema
    .describe('Labels and annotations of the Service <target>-primary.')
    .optional(),
  canary: serviceMetadataSchema.describe('Labels and annotations of the Service <target>-canary.').optional(),
};
