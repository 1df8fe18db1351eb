// Entry of the traffic simulator's own process (bench/simulator-process.ts): loads the TypeScript
// sources the way bin/petrel.js does, then runs bench/simulator-main.ts.
const { register } = await import('tsx/esm/api');
register();
await import('./simulator-main.ts');
