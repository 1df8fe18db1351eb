import { appModule } from './app.ts';
import { chartsModule } from './charts.ts';
import { renderModule } from './render.ts';

/**
 * The page's script. The browser code is written in TypeScript beside the server, so it is type-checked
 * against the same view types, and is served as the compiled text of its module functions: no bundler and
 * no build step. Each module is one function that uses nothing from outside but its parameters and the
 * browser's globals (uPlot comes from its own script tag), so its text runs as it is. `__name` is the helper
 * esbuild (tsx) calls to keep function names; here it only needs to exist.
 */
export function clientScript(): string {
  return [
    "'use strict';",
    'const __name = (target) => target;',
    `const boot = JSON.parse(document.getElementById('petrel-boot').textContent);`,
    `const charts = (${chartsModule.toString()})(window.uPlot);`,
    `const render = (${renderModule.toString()})(charts);`,
    `(${appModule.toString()})(boot, render);`,
    '',
  ].join('\n');
}
