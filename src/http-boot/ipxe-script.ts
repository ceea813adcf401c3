// Pure iPXE script renderer: BootSpec in, script text out. Exact-text goldens live in test/http-boot.
import type { BootSpec } from '../machines/boot.js';

export interface ScriptContext {
  readonly mac: string;
  /** Base URL of this listener, no trailing slash. */
  readonly publicUrl: string;
}

export function renderIpxeScript(spec: BootSpec, ctx: ScriptContext): string {
  const header = ['#!ipxe', `# netboot: ${spec.purpose} for ${ctx.mac}`];
  const file = (id: string) => `${ctx.publicUrl}/files/${id}?mac=${ctx.mac}`;
  switch (spec.purpose) {
    case 'local':
      // BIOS: `exit` returns to the firmware, which boots the next device, the disk (2 s on SeaBIOS).
      // UEFI: OVMF would first try its own PXE and HTTP boot options (247 s, recipes/deploy.md §4):
      // localboot.efi chainloads the disk's \EFI\BOOT\BOOTX64.EFI at once (platform is iPXE's pcbios or efi).
      if (spec.localbootEfi) return lines(...header, `iseq \${platform} efi && chain --autofree ${file(spec.localbootEfi)} || exit`);
      return lines(...header, 'exit');
    case 'none':
      return lines(...header, 'exit');
    case 'off':
      return lines(...header, 'poweroff');
    default: {
      // EFI iPXE of this vintage only hands the initrd to Linux when the kernel line names it with
      // initrd=<name> (FACTS.md); BIOS Linux ignores the argument, so it is always there.
      const initrdNames = spec.initrd.map((_, i) => (i === 0 ? 'initrd.img' : `initrd${i}.img`));
      const initrdArgs = initrdNames.map((name) => `initrd=${name}`).join(' ');
      return lines(
        ...header,
        `kernel ${file(spec.kernel)} ${initrdArgs} ${spec.cmdline}`.trimEnd(),
        ...spec.initrd.map((id, i) => `initrd --name ${initrdNames[i]} ${file(id)}`),
        'boot',
      );
    }
  }
}

/** Shown by iPXE when we cannot say what to boot yet (e.g. the image is not built): wait, ask again. */
export function renderRetryScript(reason: string, scriptUrl: string, retrySeconds: number): string {
  return lines(
    '#!ipxe',
    `echo netboot: cannot boot this machine yet: ${reason.replace(/[\r\n$]/g, ' ')}`,
    `echo netboot: asking again in ${retrySeconds} s`,
    `sleep ${retrySeconds}`,
    `chain --replace --autofree ${scriptUrl}`,
  );
}

function lines(...parts: string[]): string {
  return `${parts.join('\n')}\n`;
}
