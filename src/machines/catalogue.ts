// What operators define for machines to use, beside tags (tagging.ts): their commissioning and
// testing scripts, zones and resource pools. The API's routes only translate HTTP to these calls
// (STYLE.md §16); the rules (names, built-in names reserved, the default group, groups in use) are
// here, so a web UI or the CLI gets the same answers.
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { Group, ScriptBody, Store, StoredScript } from '../store/index.js';
import { SCRIPT_NAME, type RunnableScript, type ScriptCatalogue } from './scripts.js';

export type GroupKind = 'zones' | 'pools';

/** A script as the operator uploads it. */
export type ScriptUpload = ScriptBody;

const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class Catalogue {
  constructor(
    private readonly store: Pick<Store, 'scripts' | 'groups' | 'transaction'>,
    private readonly scriptCatalogue: ScriptCatalogue,
  ) {}

  /** Built-in scripts (commissioning, then testing, each by name), then the uploaded ones by name. */
  scripts(): Array<RunnableScript | (StoredScript & { builtin: false })> {
    const builtins = this.scriptCatalogue.builtins();
    return [
      ...builtins.filter((s) => s.kind === 'commissioning'),
      ...builtins.filter((s) => s.kind === 'testing'),
      ...this.store.scripts.list().map((s) => ({ ...s, builtin: false as const })),
    ];
  }

  /** Adds or replaces an uploaded script; a built-in script's name is reserved in its phase. */
  putScript(name: string, upload: ScriptUpload): StoredScript {
    if (!SCRIPT_NAME.test(name)) throw new ValidationError(`script name '${name}' must match ${SCRIPT_NAME.source}`);
    if (!upload.content.subarray(0, 2).equals(Buffer.from('#!'))) {
      throw new ValidationError('a script starts with #! (the runner executes it directly)');
    }
    if (this.scriptCatalogue.builtins().some((s) => s.kind === upload.kind && s.name === name)) throw new ConflictError(`'${name}' is a built-in script: choose another name`);
    return this.store.scripts.put({ name, ...upload });
  }

  deleteScript(name: string): void {
    if (!this.store.scripts.delete(name)) throw new NotFoundError(`no uploaded script '${name}'`);
  }

  groups(kind: GroupKind): Group[] {
    return this.store.groups.list(kind);
  }

  putGroup(kind: GroupKind, name: string, description: string): Group {
    if (!GROUP_NAME.test(name)) throw new ValidationError(`name '${name}' must be letters, digits, . _ -`);
    this.store.groups.put(kind, { name, description });
    return { name, description };
  }

  /** The default group stays, and a group with machines in it stays until they are moved. */
  deleteGroup(kind: GroupKind, name: string): void {
    const one = kind.slice(0, -1);
    if (name === 'default') throw new ConflictError(`the default ${one} cannot be deleted`);
    this.store.transaction(() => {
      const members = this.store.groups.members(kind, name);
      if (members > 0) throw new ConflictError(`${members} machine(s) are in ${one} '${name}': move them first`);
      if (!this.store.groups.delete(kind, name)) throw new NotFoundError(`no ${one} '${name}'`);
    });
  }
}
