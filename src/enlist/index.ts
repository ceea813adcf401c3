export { enlistRoutes, type EnlistDeps } from './routes.js';
export { machineCallbackRoutes, type MachineCallbackDeps } from './machine-routes.js';
export { loadBuiltinScripts, parseScriptHeader, scriptsForPhase, SCRIPT_NAME, type RunnableScript } from './scripts.js';
export { scriptBundle } from './bundle.js';
