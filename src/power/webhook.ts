// The `webhook` power driver: the operator's own HTTP endpoints, for power controllers netboot has no
// driver for (PDUs, smart plugs, a script behind a web server). Modelled on MAAS's webhook driver:
// POST to the on or off URL (no body), GET the status URL and match its answer against two regular
// expressions. Header values (tokens, Basic credentials) are secrets, like a BMC password.
import type { Logger } from 'pino';
import { httpCall, type HttpAnswer, type TlsChoice } from './https-client.js';
import { PowerError, type PowerDriver, type PowerState } from './driver.js';

export interface WebhookSettings {
  readonly onUrl: string;
  readonly offUrl: string;
  readonly statusUrl: string;
  /** Matched against the status answer: on. MAAS's default, for `{"status": "running"}`. */
  readonly onRegex?: string;
  /** Matched against the status answer: off. */
  readonly offRegex?: string;
  /** Sent with every request; the values are secrets. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Check https certificates against the system CAs (default) or caCert. */
  readonly verifyTls?: boolean;
  readonly caCert?: string;
}

export interface WebhookPowerOptions {
  readonly timeoutMs?: number;
  readonly log?: Logger;
}

/** MAAS's defaults (src/provisioningserver/drivers/power/webhook.py), case-insensitive as there. */
export const defaultOnRegex = 'status.*:.*running';
export const defaultOffRegex = 'status.*:.*stopped';
export const defaultWebhookTimeoutMs = 20_000;

export class WebhookPowerDriver implements PowerDriver {
  readonly type = 'webhook';
  private readonly tls: TlsChoice;
  private readonly timeoutMs: number;

  constructor(private readonly settings: WebhookSettings, private readonly options: WebhookPowerOptions = {}) {
    this.tls = { verify: settings.verifyTls !== false, ...(settings.caCert ? { caCert: settings.caCert } : {}) };
    this.timeoutMs = options.timeoutMs ?? defaultWebhookTimeoutMs;
  }

  async query(): Promise<PowerState> {
    const answer = await this.send('GET', this.settings.statusUrl, 'status');
    const on = new RegExp(this.settings.onRegex ?? defaultOnRegex, 'i');
    const off = new RegExp(this.settings.offRegex ?? defaultOffRegex, 'i');
    // On wins when both match, as in MAAS (it tests the on expression first).
    if (on.test(answer.text)) return 'on';
    if (off.test(answer.text)) return 'off';
    const excerpt = answer.text.replace(/\s+/g, ' ').trim().slice(0, 120);
    throw new PowerError(`webhook status ${origin(this.settings.statusUrl)}: the answer matches neither onRegex /${on.source}/ `
      + `nor offRegex /${off.source}/ (answer begins ${JSON.stringify(excerpt)})`);
  }

  async on(): Promise<void> {
    await this.send('POST', this.settings.onUrl, 'on');
  }

  async off(): Promise<void> {
    await this.send('POST', this.settings.offUrl, 'off');
  }

  /** A webhook has no cycle of its own: off, then on (MAAS does the same for power cycle). */
  async cycle(): Promise<void> {
    if (await this.query() === 'on') await this.off();
    await this.on();
  }

  private async send(method: 'GET' | 'POST', url: string, what: string): Promise<HttpAnswer> {
    const answer = await httpCall({
      method, url: new URL(url), tls: this.tls, timeoutMs: this.timeoutMs, headers: { ...this.settings.headers },
    });
    if (answer.status < 200 || answer.status >= 300) {
      throw new PowerError(`webhook ${what} ${method} ${origin(url)}: HTTP ${answer.status}`);
    }
    this.options.log?.debug({ webhook: origin(url), what }, 'webhook answered');
    return answer;
  }
}

/** Scheme, host and path: the query string may carry a token, so it stays out of messages. */
function origin(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}
