// Tags on machines: manual ones set by operators, automatic ones held by exactly the machines whose
// inventory matches the tag's definition (tags.ts), re-evaluated when a definition or an inventory
// changes.
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { Store, Tag } from '../store/index.js';
import { compileTagDefinition } from './tags.js';
import type { Machine } from './model.js';

const TAG_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class Tagging {
  constructor(private readonly store: Store) {}

  /** Creates or changes a tag; an automatic one is applied to every matching machine at once. */
  define(tag: Tag): Tag {
    if (!TAG_NAME.test(tag.name)) throw new ValidationError(`tag name '${tag.name}' must match ${TAG_NAME.source}`);
    const matches = tag.definition.trim() === '' ? undefined : compileTagDefinition(tag.definition);
    this.store.transaction(() => {
      this.store.groups.putTag(tag);
      if (matches) {
        const members = this.store.machines.list().filter((m) => m.inventory && matches(m.inventory)).map((m) => m.id);
        this.store.groups.setTagMembers(tag.name, members);
      }
    });
    return this.store.groups.tag(tag.name)!;
  }

  remove(name: string): void {
    if (!this.store.groups.deleteTag(name)) throw new NotFoundError(`no tag '${name}'`);
  }

  /** A manual tag on one machine (created on first use, as MAAS does). */
  add(machine: Machine, name: string): void {
    const tag = this.store.groups.tag(name) ?? this.define({ name, definition: '', comment: '' });
    if (tag.definition) throw new ConflictError(`tag '${name}' is automatic (${tag.definition}): machines get it from their inventory`);
    this.store.groups.tagMachine(machine.id, name);
  }

  removeFrom(machine: Machine, name: string): void {
    const tag = this.store.groups.tag(name);
    if (!tag) throw new NotFoundError(`no tag '${name}'`);
    if (tag.definition) throw new ConflictError(`tag '${name}' is automatic (${tag.definition}): change the definition instead`);
    this.store.groups.untagMachine(machine.id, name);
  }

  /** After the machine's inventory changed: which automatic tags it now holds. Returns the changes. */
  refresh(machine: Machine): { added: string[]; removed: string[] } {
    const added: string[] = [];
    const removed: string[] = [];
    if (!machine.inventory) return { added, removed };
    for (const tag of this.store.groups.tags()) {
      if (!tag.definition) continue;
      let matches: boolean;
      try {
        matches = compileTagDefinition(tag.definition)(machine.inventory);
      } catch {
        continue; // stored definitions were validated; one from an older netboot that no longer parses is skipped
      }
      const has = machine.tags.includes(tag.name);
      if (matches && !has) {
        this.store.groups.tagMachine(machine.id, tag.name);
        added.push(tag.name);
      } else if (!matches && has) {
        this.store.groups.untagMachine(machine.id, tag.name);
        removed.push(tag.name);
      }
    }
    return { added, removed };
  }
}
