// Images: the operator asks the appliance to serve what was built or imported since it started
// (`netboot images build` does this itself when the API answers; SIGHUP does the same).
import type { FastifyPluginAsync } from 'fastify';
import { ConflictError, ImageError } from '../errors.js';
import type { ReloadResult } from '../images/index.js';

export interface ImageRoutesDeps {
  readonly images: { reload(): ReloadResult };
}

export const imageRoutes: FastifyPluginAsync<ImageRoutesDeps> = async (app, deps) => {
  app.post('/images/reload', async () => {
    try {
      return deps.images.reload();
    } catch (err) {
      // A broken manifest is the operator's to fix; the images already served stay.
      if (err instanceof ImageError) throw new ConflictError(`images not reloaded, the previous ones stay served: ${err.message}`);
      throw err;
    }
  });
};
