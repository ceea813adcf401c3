// Pure renderers for the CLI: machines in, text out. Every string from the server goes through
// escape.ts on its way out (probe F7): table cells in table(), lines in line(), output in lines().
import Table from 'cli-table3';
import { escapeLines, escapeText } from './escape.js';
import type { Machine, MachineEvent } from '../machines/model.js';
import type { RelayRecord } from '../store/index.js';

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/** Plain text, no colours or borders: the output is read in CI logs and pasted into issues. */
function table(head: string[]): { push(row: string[]): void; toString(): string } {
  const t = new Table({
    head, style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 0 },
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '',
      'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '   ' },
  });
  return {
    push: (row) => t.push(row.map(escapeText)),
    toString: () => t.toString().split('\n').map((line) => `  ${line}`.trimEnd()).join('\n'),
  };
}

/** What an action answers with, as much of it as the one-line summary needs. */
export interface MachineSummary { readonly id: string; readonly hostname: string; readonly state: string; readonly statusMessage: string; readonly locked: boolean }

/** `<id> (<hostname>): <state> (locked; <status message>)`: the line every machine action prints. */
export function formatMachineLine(machine: MachineSummary): string {
  const extras = [machine.locked ? 'locked' : '', machine.statusMessage].filter(Boolean).join('; ');
  return escapeText(`${machine.id} (${machine.hostname}): ${machine.state}${extras ? ` (${extras})` : ''}`);
}

export function formatMachineList(machines: readonly Machine[]): string {
  if (machines.length === 0) return 'No machines yet: PXE-boot one on the boot network to enlist it.';
  const t = table(['ID', 'HOSTNAME', 'STATE', 'BOOT MAC', 'ARCH', 'CPUS', 'MEMORY', 'DISKS']);
  for (const m of machines) {
    const inv = m.inventory;
    t.push([m.id, m.hostname, m.state, m.bootMac ?? '-', m.arch, inv ? String(inv.cpu.count) : '-',
      inv ? mib(inv.memoryBytes) : '-', inv ? inv.disks.map((d) => `${d.name} ${gib(d.sizeBytes)}`).join(', ') || '-' : '-']);
  }
  return t.toString();
}

/** `, on (read 12:00:05Z)` or `, error: <reason>`: what the last poll or action learnt. */
function powerSummary(machine: Machine): string {
  if (machine.powerCheckedAt === null) return '';
  const at = new Date(machine.powerCheckedAt).toISOString().slice(11, 19);
  return machine.powerState === 'error' ? `, error at ${at}Z: ${machine.powerError}` : `, ${machine.powerState} (read ${at}Z)`;
}

export function formatMachine(machine: Machine, events: readonly MachineEvent[], relays: readonly RelayRecord[] = []): string {
  const out: string[] = [];
  /** One line, escaped whole: the fields in it may hold anything an older version stored. */
  const line = (text: string) => out.push(escapeText(text));
  const inv = machine.inventory;
  line(`Machine ${machine.id} (${machine.hostname})`);
  line(`  state      ${machine.state}${machine.statusMessage ? ` (${machine.statusMessage})` : ''}${machine.locked ? ', locked' : ''}`);
  line(`  zone/pool  ${machine.zone} / ${machine.pool}`);
  if (machine.tags.length > 0) line(`  tags       ${machine.tags.join(', ')}`);
  line(`  power      ${machine.power.type}${powerSummary(machine)}`);
  if (machine.notes) out.push(`  notes      ${escapeLines(machine.notes).split('\n').join('\n             ')}`);
  line(`  boot MAC   ${machine.bootMac ?? 'none yet: added by its BMC, set when it enlists'}`);
  line(`  arch       ${machine.arch}`);
  line(`  uuid       ${machine.uuid ?? '-'}`);
  line(`  created    ${new Date(machine.createdAt).toISOString()}`);
  if (inv) {
    line(`  cpu        ${inv.cpu.count} x ${inv.cpu.model}`);
    line(`  memory     ${mib(inv.memoryBytes)}`);
    line(`  system     ${[inv.dmi.vendor, inv.dmi.product].filter(Boolean).join(' ') || '-'}${inv.dmi.serial ? `, serial ${inv.dmi.serial}` : ''}`);
    line(`  kernel     ${inv.kernel}`);
    out.push('', 'Interfaces');
    const nics = table(['NAME', 'MAC', 'DRIVER', 'LINK', 'SPEED']);
    for (const n of inv.nics) nics.push([n.name, n.mac, n.driver || '-', n.link ? 'up' : 'down', n.speedMbps === null ? '-' : `${n.speedMbps} Mb/s`]);
    out.push(nics.toString());
    out.push('', 'Disks');
    if (inv.disks.length === 0) out.push('  (none)');
    else {
      const disks = table(['NAME', 'SIZE', 'MODEL', 'SERIAL', 'TYPE']);
      for (const d of inv.disks) disks.push([d.name, gib(d.sizeBytes), d.model || '-', d.serial || '-', d.rotational ? 'hdd' : 'ssd']);
      out.push(disks.toString());
    }
  }
  if (relays.length > 0) {
    // Where the switch says the machine is plugged in (DHCP relay, option 82) and what rules made of it.
    out.push('', 'Relay');
    const rows = table(['MAC', 'RELAY', 'CIRCUIT ID', 'REMOTE ID', 'ZONE', 'POOL']);
    for (const r of relays) rows.push([r.mac, r.giaddr ?? '-', r.circuitId ?? '-', r.remoteId ?? '-', r.zone ?? '-', r.pool ?? '-']);
    out.push(rows.toString());
  }
  out.push('', 'Events');
  out.push(events.length === 0 ? '  (none)' : formatTimeline(events));
  return out.join('\n');
}

/** One line per event, with the offset from the first one: the boot timeline. */
export function formatTimeline(events: readonly MachineEvent[], start = events[0]?.at ?? 0): string {
  return events.map((e) => formatEvent(e, start)).join('\n');
}

export function formatEvent(event: MachineEvent, start: number): string {
  const offset = `+${((event.at - start) / 1000).toFixed(1)}s`.padStart(8);
  const time = new Date(event.at).toISOString().slice(11, 23);
  // An iPXE boot's wait after its DHCP ACK (src/machines/boot-gap.ts): ~14 s means no IPv6 RA came.
  const gap = typeof event.data?.sinceAckMs === 'number' ? ` (${(event.data.sinceAckMs / 1000).toFixed(1)} s after the DHCP ACK)` : '';
  return escapeText(`  ${time} ${offset}  ${event.type.padEnd(12)} ${event.detail}${gap}`.trimEnd());
}

/** A script run as the API returns it (outputs as text). */
export interface ScriptRunView {
  readonly id: number;
  readonly phase: string;
  readonly status: string;
  readonly startedAt: number;
  readonly scripts: readonly string[];
  readonly results: ReadonlyArray<{ name: string; exitCode: number; timedOut: boolean; durationMs: number; stdout: string; stderr: string }>;
}

/** Phases whose steps say what they did in their last line (the installer's MiB/s, the eraser's method per disk). */
const summarised = new Set(['deployment', 'erasing']);

/** Runs, newest first: each script's outcome, and the output of the ones that failed. */
export function formatRuns(runs: readonly ScriptRunView[]): string {
  if (runs.length === 0) return 'No script runs yet.';
  const out: string[] = [];
  for (const run of runs) {
    out.push(escapeText(`Run ${run.id}: ${run.phase}, ${run.status}, started ${new Date(run.startedAt).toISOString()}`));
    const summary = summarised.has(run.phase);
    const t = table(summary ? ['SCRIPT', 'RESULT', 'TIME', 'SUMMARY'] : ['SCRIPT', 'RESULT', 'TIME']);
    for (const name of run.scripts) {
      const r = run.results.find((x) => x.name === name);
      const row = [name, !r ? 'no result' : r.timedOut ? 'timed out' : r.exitCode === 0 ? 'passed' : `failed (exit ${r.exitCode})`, r ? `${(r.durationMs / 1000).toFixed(1)} s` : '-'];
      if (summary) row.push(escapeText(r?.stdout.trim().split('\n').at(-1)?.slice(0, 120) ?? ''));
      t.push(row);
    }
    out.push(t.toString());
    for (const r of run.results.filter((x) => x.exitCode !== 0 || x.timedOut)) {
      out.push('', escapeText(`  ${r.name} stderr:`), ...indent(r.stderr), escapeText(`  ${r.name} stdout:`), ...indent(r.stdout));
    }
    out.push('');
  }
  return out.join('\n').trimEnd();
}

/** The last 40 lines of a script's output, escaped (a script prints what the machine gave it). */
function indent(text: string): string[] {
  const lines = escapeLines(text.trimEnd()).split('\n').slice(-40);
  return text.trim() === '' ? ['    (empty)'] : lines.map((l) => `    ${l}`);
}

/** A plain table of objects by the given keys (arrays joined with commas). */
export function formatRows(rows: ReadonlyArray<Record<string, unknown>>, columns: readonly string[]): string {
  if (rows.length === 0) return '  (none)';
  const t = table(columns.map((c) => c.toUpperCase()));
  for (const row of rows) {
    t.push(columns.map((c) => {
      const value = row[c];
      return Array.isArray(value) ? value.join(', ') || '-' : value === undefined || value === '' ? '-' : String(value);
    }));
  }
  return t.toString();
}
