import { CANARY_PROVIDERS } from '../api/constants.ts';

/**
 * Providers the controller can give canaries that do not set spec.provider (`--mesh-provider`, as
 * Flagger's -mesh-provider): every provider a Canary may name.
 */
export const MESH_PROVIDERS = CANARY_PROVIDERS;
export type MeshProvider = (typeof MESH_PROVIDERS)[number];
