// Pure grub.cfg renderer for the Secure Boot chain (shim -> grubnetx64 -> signed kernel). Debian's
// signed grub reads only /grub/grub.cfg from next-server, never per-MAC files (FACTS.md), so the file
// is rendered per request for the asking client and still guards on $net_default_mac: a client whose
// address maps to another MAC gets the fallback instead of another machine's boot.
import type { BootSpec } from '../machines/boot.js';

export function renderGrubConfig(spec: BootSpec, mac: string): string {
  const lines = ['# netboot: grub.cfg', 'set timeout=0', `if [ "$net_default_mac" = "${mac}" ]; then`];
  switch (spec.purpose) {
    case 'local':
      // Secure Boot: this signed grub reads the installed system's own grub.cfg and boots its
      // kernel, which it verifies through the network shim as it does a netboot kernel. Chaining
      // the disk's shim instead (\EFI\BOOT\BOOTX64.EFI) reached the disk's grub menu, then hung
      // after "Loading initial ramdisk" with no EFI stub output (OVMF secboot, TCG, 2026-12-06):
      // it stays as the fallback for a disk without /boot/grub (another OS). No disk: exit.
      lines.push(
        `  echo "netboot: local for ${mac}"`,
        '  if search --no-floppy --set=root --file /boot/grub/grub.cfg; then',
        '    configfile /boot/grub/grub.cfg',
        '  fi',
        '  if search --no-floppy --set=root --file /EFI/BOOT/BOOTX64.EFI; then',
        '    chainloader /EFI/BOOT/BOOTX64.EFI',
        '    boot',
        '  fi',
        '  exit',
      );
      break;
    case 'none':
      // exit returns to the firmware boot manager, which tries the next boot option (the disk).
      lines.push(`  echo "netboot: ${spec.purpose} for ${mac}"`, '  exit');
      break;
    case 'off':
      lines.push(`  echo "netboot: power off ${mac}"`, '  halt');
      break;
    default:
      // Paths are relative to grub's root, the TFTP server it was loaded from. grub's `linux`
      // verifies the kernel through shim under Secure Boot, which Debian's signed kernel passes.
      lines.push(
        `  echo "netboot: ${spec.purpose} for ${mac}"`,
        `  linux /files/${spec.kernel} ${grubQuote(spec.cmdline)}`,
        `  initrd ${spec.initrd.map((id) => `/files/${id}`).join(' ')}`,
        '  boot',
      );
  }
  lines.push('fi', ...grubFallback('no boot configuration for $net_default_mac'));
  return `${lines.join('\n')}\n`;
}

/** For a client we cannot identify: say so on the console, wait, and let the firmware retry. */
export function renderGrubFallback(reason: string): string {
  return `${['# netboot: grub.cfg', ...grubFallback(reason)].join('\n')}\n`;
}

function grubFallback(reason: string): string[] {
  return [`echo "netboot: ${reason.replace(/["\\]/g, '')}"`, 'sleep 30', 'reboot'];
}

/**
 * grub's parser treats `;` `$` `"` and spaces specially; the kernel line carries URLs with `?` and
 * `ds=nocloud-net;s=...` later on. Single quotes keep each argument literal.
 */
function grubQuote(cmdline: string): string {
  return cmdline.split(' ').filter(Boolean).map((arg) => (/^[\w.,:=/@+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}
