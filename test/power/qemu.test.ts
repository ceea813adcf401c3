// The qemu power driver against a real QEMU (TCG, SeaBIOS, no OS, no network) started the way the lab
// starts a chassis (chassisArgs: -no-shutdown and a QMP socket). SeaBIOS logs to its debug port at
// every start, which counts boots: a power-on or cycle must start the firmware afresh, an
// off must not let it run. A 512-byte boot sector that writes ACPI S5 stands in for a guest OS that
// powers off. Needs qemu-system-x86 only: no root, since there is no tap device or namespace.
import { afterEach, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chassisArgs, qemuBinary, type ChassisOptions } from '../../src/lab/qemu.js';
import { Launched } from '../../src/lab/launcher.js';
import { PowerError, QemuPowerDriver, createPowerDriver } from '../../src/power/index.js';
import { withQmp } from '../../src/power/qmp.js';
import { tempDir } from '../support/fixtures.js';

function missingQemu(): string | undefined {
  try {
    execFileSync(qemuBinary, ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return `${qemuBinary} is missing (Debian package qemu-system-x86; scripts/install-deps.sh installs it)`;
  }
}

const missing = missingQemu();
if (missing !== undefined) console.warn(`test/power/qemu.test.ts: QEMU tests skipped: ${missing}`);

/**
 * Boot sector (16-bit real mode, hand-assembled): read the PIIX4 PM I/O base from PCI 00:01.3
 * register 0x40, write SLP_EN with SLP_TYP 0 to PM1a_CNT (base + 4) — S5, soft off in QEMU's ACPI
 * model (hw/acpi/core.c acpi_pm1_cnt_write) — then halt.
 */
const poweroffBootSector = Buffer.from([
  0xfa, // cli
  0x66, 0xb8, 0x40, 0x0b, 0x00, 0x80, // mov eax, 0x80000b40   (bus 0, device 1, function 3, register 0x40)
  0xba, 0xf8, 0x0c, // mov dx, 0xcf8
  0x66, 0xef, // out dx, eax
  0xba, 0xfc, 0x0c, // mov dx, 0xcfc
  0x66, 0xed, // in eax, dx
  0x25, 0xc0, 0xff, // and ax, 0xffc0         (PMBASE, without the I/O space bit)
  0x05, 0x04, 0x00, // add ax, 4              (PM1a_CNT)
  0x89, 0xc2, // mov dx, ax
  0xb8, 0x00, 0x20, // mov ax, 0x2000         (SLP_EN, SLP_TYP 0 = S5)
  0xef, // out dx, ax
  0xf4, // hlt
  0xeb, 0xfd, // jmp hlt
]);

const firmwareStart = /^Running on QEMU /;
/** The end of POST: SeaBIOS hands over to a boot device, or finds none (no disk, no NIC). */
const firmwareDone = /^(Booting from |No bootable device)/;

interface Chassis {
  readonly qemu: Launched;
  readonly socket: string;
  /**
   * SeaBIOS starts seen so far. A reset can count twice: SeaBIOS on QEMU answers a reset of a
   * machine it has already started with its resume path ("In resume", "Attempting a hard reboot"),
   * which tries several reset methods in turn (src/fw/resume.c tryReboot); under TCG a second one can
   * fire before the first has taken effect, and POST starts over once more within a few ms. So
   * tests wait for "at least one more start", then for POST to finish before comparing counts.
   */
  boots(): number;
  /** True once the latest start has reached the end of POST. */
  settled(): boolean;
}

let dir: ReturnType<typeof tempDir> | undefined;
let chassis: Chassis | undefined;
const held: Socket[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const socket of held.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  // By PID (Launched.stop: SIGTERM, SIGKILL after the grace time), even when the test failed.
  await chassis?.qemu.stop(2000);
  chassis = undefined;
  dir?.cleanup();
  dir = undefined;
}, 20_000);

async function startChassis(options: ChassisOptions & { bootSector?: boolean } = {}): Promise<Chassis> {
  dir = tempDir('nb-power-');
  const socket = join(dir.path, 'qmp.sock');
  const disk: string[] = [];
  if (options.bootSector) {
    const image = Buffer.alloc(1024 * 1024);
    poweroffBootSector.copy(image);
    image.writeUInt16LE(0xaa55, 510);
    writeFileSync(join(dir.path, 'disk.img'), image);
    disk.push('-drive', `file=${join(dir.path, 'disk.img')},format=raw,if=ide`);
  }
  let boots = 0;
  let settled = false;
  const qemu = await Launched.start({
    name: 'qemu (power test)',
    command: qemuBinary,
    args: [
      '-accel', 'tcg', '-nodefaults', '-display', 'none', '-machine', 'pc', '-m', '64', '-nic', 'none',
      // SeaBIOS's debug port (0x402 in QEMU builds). Its banner comes twice per start (once more
      // when it turns on the text console); "Running on QEMU" comes once.
      '-chardev', 'stdio,id=seabios', '-device', 'isa-debugcon,iobase=0x402,chardev=seabios',
      ...chassisArgs({ qmpSocket: socket, noShutdown: options.noShutdown ?? true }),
      ...disk,
    ],
    logFile: join(dir.path, 'qemu.log'),
    onLine: (line) => {
      if (firmwareStart.test(line)) {
        boots++;
        settled = false;
      } else if (firmwareDone.test(line)) {
        settled = true;
      }
    },
  });
  chassis = { qemu, socket, boots: () => boots, settled: () => settled };
  // QEMU opens its QMP socket before the machine runs, so the first start means the socket is there.
  await qemu.waitFor(firmwareStart, 15_000, 'SeaBIOS to start');
  return chassis;
}

/** Polls `check` until it holds; fails early if QEMU exits. */
async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (chassis && !chassis.qemu.running) throw new Error(`QEMU exited while waiting for ${what}:\n${chassis.qemu.tail()}`);
    if (Date.now() > deadline) {
      const state = chassis ? await runState(chassis.socket).catch((e: unknown) => `unknown (${String(e)})`) : 'no chassis';
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; QEMU run state ${state}; ` +
        `last output:\n${chassis?.qemu.tail(60) ?? ''}`);
    }
    await sleep(50);
  }
}

/** Waits until SeaBIOS has started again since `before` starts and finished that POST. */
async function startedAfresh(vm: Chassis, before: number, what: string): Promise<void> {
  await eventually(() => vm.boots() > before && vm.settled(), `SeaBIOS to start again ${what} and finish POST`);
}

/** The raw QMP run state, to check the driver's mapping from the outside. */
function runState(socket: string): Promise<string> {
  return withQmp(socket, 5000, async (qmp) => ((await qmp.execute('query-status')) as { status: string }).status);
}

test('chassisArgs: -no-shutdown instead of -no-reboot, and a QMP server socket (commas escaped)', () => {
  expect(chassisArgs({})).toEqual(['-no-reboot']);
  expect(chassisArgs({ noShutdown: true, qmpSocket: '/run/nb/vm,1.qmp' }))
    .toEqual(['-no-shutdown', '-qmp', 'unix:/run/nb/vm,,1.qmp,server=on,wait=off']);
});

test('a missing socket is a PowerError that says the VM is not running or lacks -qmp', async () => {
  const driver = createPowerDriver({ type: 'qemu', socket: '/nonexistent/netboot-test/qmp.sock' });
  const error = await driver.query().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PowerError);
  expect(error).toMatchObject({ code: 'NB_ERR_POWER_FAILED' });
  expect((error as Error).message).toMatch(/QMP socket \/nonexistent\/netboot-test\/qmp\.sock does not exist: the VM is not running/);
  expect((error as Error).message).toContain('-qmp unix:/nonexistent/netboot-test/qmp.sock,server=on,wait=off');
});

describe('QMP sessions against servers that are not QEMU', () => {
  async function fakeServer(onConnection: (socket: Socket) => void): Promise<string> {
    dir ??= tempDir('nb-power-');
    const path = join(dir.path, `fake-${servers.length}.sock`);
    const server = createServer((socket) => {
      held.push(socket);
      onConnection(socket);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return path;
  }

  test('silence is a timeout that names the step and the one-client-at-a-time rule', async () => {
    const socket = await fakeServer(() => undefined);
    const started = Date.now();
    const error = await new QemuPowerDriver({ socket, timeoutMs: 300 }).query().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PowerError);
    expect((error as Error).message).toMatch(/did not answer .* within 0\.3 s \(while waiting for the QMP greeting\).*one client at a time/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('something that is not QMP is named as such', async () => {
    const socket = await fakeServer((peer) => peer.write('220 smtp ready\r\n'));
    await expect(new QemuPowerDriver({ socket }).query()).rejects.toThrow(/sent something that is not QMP JSON/);
  });

  test('a peer that hangs up mid-session: the VM process has probably exited', async () => {
    const socket = await fakeServer((peer) => peer.end('{"QMP": {"version": {}, "capabilities": []}}\r\n'));
    await expect(new QemuPowerDriver({ socket }).query()).rejects.toThrow(/closed the QMP connection .* while running qmp_capabilities/);
  });
});

describe.skipIf(missing !== undefined)(`qemu power driver against a real QEMU (TCG, SeaBIOS, no OS)${missing ? ` (skipped: ${missing})` : ''}`, () => {
  test('running is on; off stops and resets it (prelaunch, QEMU alive); on boots the firmware afresh', async () => {
    const vm = await startChassis();
    const driver = createPowerDriver({ type: 'qemu', socket: vm.socket });
    expect(driver.type).toBe('qemu');
    expect(await driver.query()).toBe('on');

    await driver.off();
    expect(await driver.query()).toBe('off');
    expect(await runState(vm.socket)).toBe('prelaunch');
    expect(vm.qemu.running).toBe(true);
    await driver.off(); // already off: nothing to do
    expect(await driver.query()).toBe('off');
    await sleep(500);
    expect(vm.boots()).toBe(1); // the firmware did not run while off

    await driver.on();
    expect(await driver.query()).toBe('on');
    await startedAfresh(vm, 1, 'after on');
    const booted = vm.boots();
    await driver.on(); // already on: no reset
    await sleep(500);
    expect(vm.boots()).toBe(booted);
  }, 60_000);

  test('cycle restarts a running VM from its firmware, and powers on a VM that is off', async () => {
    const vm = await startChassis();
    const driver = createPowerDriver({ type: 'qemu', socket: vm.socket });
    expect(vm.boots()).toBe(1);
    await driver.cycle();
    expect(await driver.query()).toBe('on');
    await startedAfresh(vm, 1, 'after cycle');

    const booted = vm.boots();
    await driver.off();
    await driver.cycle();
    expect(await driver.query()).toBe('on');
    await startedAfresh(vm, booted, 'after cycle from off');
  }, 60_000);

  test('a paused VM (QMP stop by someone else) is off, and on boots it afresh rather than resuming', async () => {
    const vm = await startChassis();
    await withQmp(vm.socket, 5000, (qmp) => qmp.execute('stop'));
    const driver = createPowerDriver({ type: 'qemu', socket: vm.socket });
    expect(await driver.query()).toBe('off');
    expect(vm.boots()).toBe(1);
    await driver.on();
    expect(await driver.query()).toBe('on');
    await startedAfresh(vm, 1, 'after on from paused');
  }, 60_000);

  test('a guest power-off (ACPI S5) leaves QEMU in shutdown: off; on boots it, and it powers off again', async () => {
    const vm = await startChassis({ bootSector: true });
    const driver = createPowerDriver({ type: 'qemu', socket: vm.socket });
    await eventually(async () => (await runState(vm.socket)) === 'shutdown', 'the guest to power off');
    expect(await driver.query()).toBe('off');
    expect(vm.qemu.running).toBe(true);
    expect(vm.boots()).toBe(1);
    await driver.off(); // already off
    expect(await runState(vm.socket)).toBe('shutdown');

    await driver.on();
    await startedAfresh(vm, 1, 'after on from shutdown');
    await eventually(async () => (await runState(vm.socket)) === 'shutdown', 'the guest to power off a second time');
    expect(vm.qemu.running).toBe(true);
  }, 60_000);

  test('QEMU with -no-reboot cannot be powered off and on cleanly: the error says why', async () => {
    const vm = await startChassis({ noShutdown: false });
    const driver = createPowerDriver({ type: 'qemu', socket: vm.socket });
    await expect(driver.off()).rejects.toThrow(/turns a reset into a shutdown: it runs with -no-reboot/);
  }, 60_000);

  test('another client holding the QMP monitor: a timeout that says so; then it works again', async () => {
    const vm = await startChassis();
    const other = createConnection({ path: vm.socket });
    held.push(other);
    await new Promise((resolve) => other.once('data', resolve)); // QEMU greeted it: it owns the monitor
    const error = await new QemuPowerDriver({ socket: vm.socket, timeoutMs: 500 }).query().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PowerError);
    expect((error as Error).message).toMatch(/another client holds its QMP monitor/);
    other.destroy();
    await eventually(async () => (await new QemuPowerDriver({ socket: vm.socket }).query()) === 'on', 'the monitor to be free');
  }, 60_000);

  test('a killed QEMU leaves a stale socket: the error says the process has exited', async () => {
    const vm = await startChassis();
    process.kill(vm.qemu.pid, 'SIGKILL'); // our own child, by PID
    await vm.qemu.exited;
    const error = await createPowerDriver({ type: 'qemu', socket: vm.socket }).on().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PowerError);
    expect((error as Error).message).toMatch(/nothing listens on QMP socket .* the QEMU process that made it has exited/);
  }, 60_000);
});
