export { RenderCache } from './cache.js';
export { cloudInitRoutes, type CloudInitRouteDeps } from './routes.js';
export { parseOperatorUserData, type OperatorUserData } from './operator-user-data.js';
export { cloudInitSchemaChecker, cloudInitVersion, type SchemaChecker } from './schema-check.js';
export { seedBase } from './render.js';
