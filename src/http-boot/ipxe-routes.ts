import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { Closed } from '../schemas.js';
import { normaliseMac, type Arch } from '../machines/boot.js';
import { NetbootError, ValidationError } from '../errors.js';
import { noMetrics } from '../metrics.js';
import type { HttpBootDeps } from './deps.js';
import { renderIpxeScript, renderRetryScript } from './ipxe-script.js';

const archValues: readonly Arch[] = ['x86', 'x86_64-efi', 'arm64-efi', 'unknown'];

/** GET /boot/<mac>.ipxe: the script iPXE chains to, rendered from the Booter's BootSpec. */
export const ipxeRoutes: FastifyPluginAsync<HttpBootDeps> = async (app, deps) => {
  // purpose: the BootSpec's (enlist, deploy-disk, local, ...); result: what the machine was sent.
  const renders = (deps.metrics ?? noMetrics).counter(
    'netboot_http_boot_scripts_total', 'iPXE boot scripts answered, by boot purpose and result', ['purpose', 'result'],
  );
  app.get('/boot/:script', {
    schema: {
      // Closed (STYLE.md §17): the URL is ours (appliance.ts bootScriptUrl), so nothing else is expected.
      params: Closed({ script: Type.String({ maxLength: 64 }) }),
      querystring: Closed({ arch: Type.Optional(Type.String({ maxLength: 32 })) }),
    },
  }, async (request, reply) => {
    const { script } = request.params as { script: string };
    const { arch } = request.query as { arch?: string };
    const mac = script.endsWith('.ipxe') ? normaliseMac(script.slice(0, -'.ipxe'.length)) : null;
    if (!mac) throw new ValidationError(`boot script name must be <mac>.ipxe, got '${script}'`);
    const client = { mac, arch: archValues.find((a) => a === arch) ?? 'unknown', firmware: 'ipxe' } as const;
    reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store');
    try {
      const spec = await deps.booter.bootSpec(client);
      if (!spec) {
        renders.inc({ purpose: 'none', result: 'not-served' });
        return reply.code(404).send('#!ipxe\necho netboot: this machine is not served here\nexit\n');
      }
      // A script with a run token goes only to the address leased to this MAC (probe F2): anyone
      // else who names the MAC is told so, and the attempt goes on the machine's timeline.
      // 200, not 403: iPXE runs no script from an error answer, and a real machine whose lease the
      // proxy has not heard yet must keep asking rather than fall through to the next boot device.
      if ('runToken' in spec && spec.runToken !== undefined && !deps.auth.mayUseToken(spec.runToken, request.ip, 'boot script')) {
        renders.inc({ purpose: spec.purpose, result: 'token-refused' });
        return renderRetryScript(`this boot script is served only to the address leased to ${mac}`, `${deps.publicUrl}/boot/${mac}.ipxe`, 10);
      }
      deps.events.record({ mac, type: 'ipxe-script', detail: spec.purpose });
      renders.inc({ purpose: spec.purpose, result: 'rendered' });
      return renderIpxeScript(spec, { mac, publicUrl: deps.publicUrl });
    } catch (error) {
      if (!(error instanceof NetbootError) || error.statusCode < 500) throw error;
      // Expected while an image is being built: the machine retries by itself instead of falling
      // through to the next boot device.
      request.log.warn({ mac, err: error }, 'cannot render boot script');
      deps.events.record({ mac, type: 'ipxe-script', detail: `retry: ${error.message}` });
      renders.inc({ purpose: 'unknown', result: 'retry' });
      return renderRetryScript(error.message, `${deps.publicUrl}/boot/${mac}.ipxe`, 30);
    }
  });
};
