export { enlistRoutes, type EnlistDeps } from './routes.js';
export { machineCallbackRoutes, type MachineCallbackDeps } from './machine-routes.js';
export { loadBuiltinScripts, parseScriptHeader } from './scripts.js';
export { scriptBundle } from './bundle.js';
