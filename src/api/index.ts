export { buildApiApp, type ApiDeps } from './app.js';
export { operatorToken, tokenFile } from './token.js';
export { machineView, matchesFilter, MachineFilter, type MachineFilterQuery } from './machine-routes.js';
export { PromMetrics, metricsRoutes } from './metrics.js';
