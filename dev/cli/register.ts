import { registerCommand } from '../../src/cli/run.ts';

/** Adds the development commands to the `petrel` CLI; loaded only when petrel runs from a source checkout. */
export function registerDevelopmentCommands(): void {
  registerCommand('sandbox', async () => (await import('./sandbox.ts')).sandboxCommand);
  registerCommand('demo', async () => (await import('./demo.ts')).demoCommand);
}
