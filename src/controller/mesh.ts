/** Meshes the controller can route with (`--mesh-provider`). */
export const MESH_PROVIDERS = ['istio'] as const;
export type MeshProvider = (typeof MESH_PROVIDERS)[number];
