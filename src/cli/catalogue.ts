// `netboot scripts|tags|zones|pools`: the operator API's catalogues from the command line.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { ValidationError } from '../errors.js';
import { apiClient } from './api-client.js';
import { resolveConfig, type GlobalOptions } from './context.js';
import { safeJson } from './escape.js';
import { formatRows } from './format.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerCatalogueCommands(program: Command): void {
  const api = () => apiClient(resolveConfig(program.opts<GlobalOptions>()));
  const print = (rows: ReadonlyArray<Record<string, unknown>>, columns: string[], json?: boolean) =>
    console.log(json ? safeJson(rows) : formatRows(rows, columns));

  const scripts = program.command('scripts').description('commissioning and testing scripts');
  scripts.command('list').option('--json', 'print JSON').action(async (o: { json?: boolean }) => {
    const rows = await api().call<Array<Record<string, unknown>>>('GET', '/scripts');
    print(o.json ? rows : rows.map(({ content: _c, ...r }) => r), ['name', 'kind', 'timeoutSeconds', 'builtin', 'tags', 'description'], o.json);
  });
  scripts.command('add').description('upload a script (replaces one of the same name)').argument('<file>')
    .requiredOption('--kind <commissioning|testing>').option('--name <name>', 'default: the file name')
    .option('--timeout <seconds>', 'kill it after this long', '600').option('--description <text>')
    .option('--tag <tag>', 'only machines with this tag (repeatable)', collect, [])
    .option('--param <KEY=value>', 'an environment variable for the script (repeatable)', collect, [])
    .action(async (file: string, o: { kind: string; name?: string; timeout: string; description?: string; tag: string[]; param: string[] }) => {
      const parameters = Object.fromEntries(o.param.map((p) => {
        const at = p.indexOf('=');
        if (at < 1) throw new ValidationError(`--param '${p}': use KEY=value`);
        return [p.slice(0, at), p.slice(at + 1)];
      }));
      const name = o.name ?? basename(file).replace(/\.sh$/, '');
      await api().call('PUT', `/scripts/${encodeURIComponent(name)}`, {
        kind: o.kind, timeoutSeconds: Number(o.timeout), content: readFileSync(file, 'utf8'), parameters, tags: o.tag,
        ...(o.description ? { description: o.description } : {}),
      });
      console.log(`script ${name} (${o.kind}) saved`);
    });
  scripts.command('remove').argument('<name>').action(async (name: string) => {
    await api().call('DELETE', `/scripts/${encodeURIComponent(name)}`);
    console.log(`script ${name} removed`);
  });

  const tags = program.command('tags').description('machine tags (manual, or automatic from the inventory)');
  tags.command('list').option('--json', 'print JSON').action(async (o: { json?: boolean }) =>
    print(await api().call('GET', '/tags'), ['name', 'definition', 'comment'], o.json));
  tags.command('define').description('create or change a tag; with --definition it is automatic').argument('<name>')
    .option('--definition <expression>', 'e.g. "cpu_count >= 4 and \\"virtio_net\\" in drivers"').option('--comment <text>')
    .action(async (name: string, o: { definition?: string; comment?: string }) => {
      await api().call('PUT', `/tags/${encodeURIComponent(name)}`, { definition: o.definition ?? '', comment: o.comment ?? '' });
      console.log(`tag ${name} saved`);
    });
  tags.command('remove').argument('<name>').action(async (name: string) => {
    await api().call('DELETE', `/tags/${encodeURIComponent(name)}`);
    console.log(`tag ${name} removed`);
  });

  for (const kind of ['zones', 'pools'] as const) {
    const group = program.command(kind).description(kind === 'zones' ? 'availability zones' : 'resource pools');
    group.command('list').option('--json', 'print JSON').action(async (o: { json?: boolean }) =>
      print(await api().call('GET', `/${kind}`), ['name', 'description'], o.json));
    group.command('add').argument('<name>').option('--description <text>').action(async (name: string, o: { description?: string }) => {
      await api().call('PUT', `/${kind}/${encodeURIComponent(name)}`, { description: o.description ?? '' });
      console.log(`${kind.slice(0, -1)} ${name} saved`);
    });
    group.command('remove').argument('<name>').action(async (name: string) => {
      await api().call('DELETE', `/${kind}/${encodeURIComponent(name)}`);
      console.log(`${kind.slice(0, -1)} ${name} removed`);
    });
  }
}
