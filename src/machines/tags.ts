// Automatic tags: a definition is an expression over facts of the machine's inventory, evaluated by
// filtrex (a sandboxed expression language made for user-written filters: no property access to
// JavaScript objects, no function calls but its own). Re-evaluated when the inventory or the
// definition changes.
import { compileExpression } from 'filtrex';
import { ValidationError } from '../errors.js';
import type { Inventory } from './inventory.js';

/**
 * The names a definition can use, e.g. `cpu_count >= 4 and memory_mib >= 8192`,
 * `"virtio_net" in drivers`, `vendor == "QEMU"`, `disk_count > 0 and disk_gib >= 100`.
 */
export function inventoryFacts(inventory: Inventory): Record<string, unknown> {
  const gib = (bytes: number) => Math.floor(bytes / 2 ** 30);
  return {
    arch: inventory.arch,
    cpu_count: inventory.cpu.count,
    cpu_model: inventory.cpu.model,
    memory_mib: Math.floor(inventory.memoryBytes / 2 ** 20),
    disk_count: inventory.disks.length,
    disk_gib: gib(inventory.disks.reduce((sum, d) => sum + d.sizeBytes, 0)),
    largest_disk_gib: gib(Math.max(0, ...inventory.disks.map((d) => d.sizeBytes))),
    nic_count: inventory.nics.length,
    drivers: [...new Set(inventory.nics.map((n) => n.driver).filter(Boolean))],
    vendor: inventory.dmi.vendor,
    product: inventory.dmi.product,
    kernel: inventory.kernel,
  };
}

/** An inventory with nothing in it: probes a definition for unknown names. */
const emptyInventory: Inventory = {
  bootMac: '00:00:00:00:00:00', arch: '', kernel: '', cpu: { count: 1, model: '' }, memoryBytes: 1, nics: [], disks: [],
  dmi: { vendor: '', product: '', serial: '', uuid: '' },
};

export const factNames = Object.keys(inventoryFacts(emptyInventory));

export type TagMatcher = (inventory: Inventory) => boolean;

/** Compiles a definition, or throws ValidationError saying what is wrong with it. */
export function compileTagDefinition(definition: string): TagMatcher {
  let compiled: (facts: Record<string, unknown>) => unknown;
  try {
    compiled = compileExpression(definition);
  } catch (error) {
    throw new ValidationError(`tag definition does not parse: ${(error as Error).message.split('\n').join(' ')}`);
  }
  // An unknown name is only found when evaluating: try it once on empty facts to report it now.
  const probe = compiled(inventoryFacts(emptyInventory));
  if (probe instanceof Error) {
    throw new ValidationError(`tag definition: ${probe.message}; known names: ${factNames.join(', ')}`);
  }
  return (inventory) => compiled(inventoryFacts(inventory)) === true;
}
