export { enlistRoutes, type EnlistDeps } from './routes.js';
