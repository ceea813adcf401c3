// What a reply tells a client to boot. The Booter decides *whether* and *what* boots (kernel, state);
// the firmware decides the *loader* (ARCHITECTURE.md "One decision point", STYLE.md §4).
import type { Arch, BootClient, Booter, BootSpec } from '../machines/boot.js';
import type { DhcpOptions } from './codec/index.js';

/** The Booter's answer, resolved before respond() so that respond stays pure. */
export type BootDecision =
  /** Not a network-boot client (no PXEClient/HTTPClient/iPXE): it gets an address, not a boot file,
   * and the Booter is not asked, so a laptop on the boot network never becomes a machine. */
  | { readonly kind: 'not-a-boot-client' }
  /** The Booter returned null: do not answer this client at all. */
  | { readonly kind: 'do-not-answer' }
  | { readonly kind: 'boot'; readonly spec: BootSpec };

export async function decideBoot(booter: Booter, client: BootClient): Promise<BootDecision> {
  if (client.firmware === 'unknown') return { kind: 'not-a-boot-client' };
  const spec = await booter.bootSpec(client);
  return spec === null ? { kind: 'do-not-answer' } : { kind: 'boot', spec };
}

/**
 * Loaders fetched over TFTP from siaddr by firmware that is not iPXE yet; each chains to iPXE, which
 * then asks again with user class `iPXE` and gets its script. snponly.efi uses the firmware's own
 * network driver (SNP), so it works on any UEFI NIC. No arm64 loader is shipped yet.
 */
export const tftpLoaders: Readonly<Record<Arch, string | undefined>> = {
  x86: 'undionly.kpxe',
  'x86_64-efi': 'snponly.efi',
  'arm64-efi': undefined,
  unknown: undefined,
};

/** Which loader UEFI firmware without iPXE gets (config `boot`). */
export interface LoaderChoice {
  /** TFTP name for UEFI PXE: snponly.efi, ipxe.efi, or efi/bootx64.efi (shim, the Secure Boot chain). */
  readonly uefiPxe: string;
  /** Absolute http:// URL of the loader for UEFI HTTP Boot; undefined: address only. */
  readonly uefiHttp?: string;
}

export const defaultLoaders: LoaderChoice = { uefiPxe: 'snponly.efi' };

/** RFC 2131 §2: 128-octet field, NUL-terminated. */
export const MAX_FILE_FIELD = 127;

/** iPXE option 175.176, DHCP_EB_NO_PXEDHCP in iPXE's include/ipxe/dhcp.h: read from the offer. */
const IPXE_NO_PXEDHCP = 176;

export interface BootReply {
  /** The BOOTP `file` field ('' when the name does not fit: then option 67 carries it). */
  readonly file: string;
  readonly options: DhcpOptions;
}

/** Boot information for a reply, or undefined for an address-only reply. */
export function bootReply(
  client: BootClient, decision: BootDecision, bootScriptUrl: (mac: string) => string,
  loaders: LoaderChoice = defaultLoaders,
): BootReply | undefined {
  if (decision.kind !== 'boot' || decision.spec.purpose === 'none') return undefined;
  switch (client.firmware) {
    case 'ipxe': {
      // iPXE fetches its script over HTTP: the URL is the boot file (FACTS.md). 175.176 = 1 stops
      // it waiting ~3 s for proxyDHCP offers that will never come in full-DHCP mode.
      const url = bootScriptUrl(client.mac);
      return {
        file: url.length <= MAX_FILE_FIELD ? url : '',
        options: {
          bootFileName: url,
          ipxeEncapsulated: new Map([[IPXE_NO_PXEDHCP, Uint8Array.of(1)]]),
        },
      };
    }
    case 'bios-pxe':
    case 'uefi-pxe': {
      // PXE ROMs and shim read only the BOOTP file field (FACTS.md), so no option 67.
      const loader = client.arch === 'x86_64-efi' ? loaders.uefiPxe : tftpLoaders[client.arch];
      return loader === undefined ? undefined : { file: loader, options: {} };
    }
    case 'uefi-http': {
      // UEFI HTTP Boot (UEFI 2.5+ §24.7.2) ignores an offer that does not echo vendor class
      // "HTTPClient", and wants an absolute URL as the boot file (FACTS.md). Only x64 has a loader.
      const url = client.arch === 'x86_64-efi' ? loaders.uefiHttp : undefined;
      if (url === undefined) return undefined;
      return {
        file: url.length <= MAX_FILE_FIELD ? url : '',
        options: { bootFileName: url, vendorClassId: 'HTTPClient' },
      };
    }
    case 'unknown':
      return undefined;
  }
}
