export * from './alert-provider.ts';
export * from './canary.ts';
export * from './common.ts';
export * from './constants.ts';
export * from './duration.ts';
export * from './issues.ts';
export * from './metric-template.ts';
export * from './resource.ts';
