// Shutdown of the appliance: what started last stops first, and no step waits for ever. A listener
// can hang in close (a connection that never ends); if that kept the later closers from running, the
// boot listener would go on serving and the store would stay open while systemd waits to SIGKILL
// (security probe F5). Each closer gets a bound, then the next one runs regardless.
import type { Logger } from 'pino';

export type Closer = () => Promise<void> | void;

/** How long one closer may take before the next one starts. */
export const CLOSER_BOUND_MS = 3000;

/** Runs the closers last to first, emptying the list (a second call does nothing). Never throws. */
export async function closeInReverse(closers: Closer[], log: Logger, boundMs = CLOSER_BOUND_MS): Promise<void> {
  for (const closer of closers.splice(0).reverse()) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(resolve, boundMs, 'late');
    });
    try {
      const outcome = await Promise.race([Promise.resolve().then(closer), late]);
      // The closer's own text (`() => api.close()`) is the most precise name it has.
      if (outcome === 'late') log.error({ closer: String(closer).slice(0, 80), boundMs }, 'a service did not close in time; closing the rest');
    } catch (err) {
      log.error({ err }, 'error while shutting down');
    } finally {
      clearTimeout(timer);
    }
  }
}
