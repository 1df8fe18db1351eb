#!/usr/bin/env node
// Runs the TypeScript sources directly so `npx petrel` works on a fresh clone without a build step;
// there the development commands (demo, sandbox) from dev/ are added too.
// The built copy (npm run build -> dist/) is used instead when PETREL_USE_DIST=1, as in the container image,
// which carries neither dev/ nor tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (process.env.PETREL_USE_DIST === '1' && existsSync(`${root}dist/cli/main.js`)) {
  await import(`${root}dist/cli/main.js`);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  if (existsSync(`${root}dev/cli/register.ts`)) {
    const { registerDevelopmentCommands } = await import(`${root}dev/cli/register.ts`);
    registerDevelopmentCommands();
  }
  await import(`${root}src/cli/main.ts`);
}
