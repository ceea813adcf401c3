import type { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { Lab, labAddresses } from '../lab/lab.js';
import { SiteDhcp } from '../lab/site-dhcp.js';
import { qemuBinary, type VmFirmware } from '../lab/qemu.js';
import { buildImage } from '../images/index.js';
import { recipesDir } from '../paths.js';
import { LabError } from '../errors.js';
import { formatEvent, formatMachine } from './format.js';
import { deployDemo } from './lab-deploy.js';
import { imagesDirOf, resolveConfig, type GlobalOptions } from './context.js';

interface LabCommandOptions { timeout: string; memory: string; cpus: string; keep?: boolean; accel: string; firmware: string; dhcp: string; deploy?: boolean }

const firmwares: readonly VmFirmware[] = ['bios', 'uefi-pxe', 'uefi-http', 'secure-boot'];

const demoVm = { mac: '52:54:00:6e:62:01', uuid: '6e657462-6f6f-4c61-8062-000000000001' };

export function registerLabCommand(program: Command): void {
  program.command('lab')
    .description('demo: build the boot image if missing, PXE-boot a QEMU VM in a private network, show it enlisted')
    .option('--timeout <seconds>', 'how long the VM may take to enlist', '300')
    .option('--memory <MiB>', 'VM memory', '512')
    .option('--cpus <n>', 'VM CPUs', '2')
    .option('--accel <tcg|kvm>', 'QEMU accelerator (the nested KVM of many CI hosts cannot run firmware)', 'tcg')
    .option('--firmware <kind>', `VM firmware: ${firmwares.join(' | ')} (secure-boot boots shim -> grub -> signed kernel)`, 'bios')
    .option('--dhcp <mode>', 'full: the appliance hands out addresses | proxy: a site DHCP server (dnsmasq) does, the appliance only boot files', 'full')
    .option('--keep', 'keep the lab folder (logs, serial console, database) afterwards')
    .option('--deploy', 'then commission, allocate and deploy it (debian-disk), log in over SSH and release it (~10 min under TCG)')
    .action(async (options: LabCommandOptions) => runLab(program.opts<GlobalOptions>(), options));
}

async function runLab(global: GlobalOptions, options: LabCommandOptions): Promise<void> {
  if (process.getuid?.() !== 0) throw new LabError('the lab creates a network namespace and tap devices: run it as root');
  try {
    execFileSync(qemuBinary, ['--version'], { stdio: 'ignore' });
  } catch {
    throw new LabError(`${qemuBinary} is not installed: apt-get install qemu-system-x86 ipxe-qemu`);
  }
  const firmware = firmwares.find((f) => f === options.firmware);
  if (!firmware) throw new LabError(`unknown --firmware '${options.firmware}': use one of ${firmwares.join(', ')}`);
  if (options.dhcp !== 'full' && options.dhcp !== 'proxy') throw new LabError(`unknown --dhcp '${options.dhcp}': use full or proxy`);
  const dhcpMode = options.dhcp;
  const imagesDir = imagesDirOf(resolveConfig(global));
  step('building the micro boot image (skipped when it is up to date)');
  const built = await buildImage({ name: 'micro', imagesDir, recipesDir, force: false, onProgress: (line) => console.log(`    ${line}`) });
  console.log(`    image micro ${built.image.version}${built.skipped ? ' (cached)' : ` built in ${built.seconds.toFixed(0)} s`}`);
  if (options.deploy) {
    for (const name of ['debian', 'debian-disk']) {
      step(`building the ${name} image for --deploy (skipped when it is up to date; ~5 min the first time)`);
      const image = await buildImage({ name, imagesDir, recipesDir, force: false, onProgress: (line) => console.log(`    ${line}`) });
      console.log(`    image ${name}${image.skipped ? ' (cached)' : ` built in ${image.seconds.toFixed(0)} s`}`);
    }
  }

  step(`creating a private boot network and starting the appliance in it (DHCP ${dhcpMode} mode)`);
  const lab = await Lab.start({ imagesDir, keepDir: options.keep, uefiLoader: firmware === 'secure-boot' ? 'shim' : 'snponly', dhcpMode });
  let site: SiteDhcp | undefined;
  const teardown = async () => {
    await site?.stop();
    await lab.close();
  };
  const stopOnSignal = () => {
    console.log('\ninterrupted: tearing the lab down');
    teardown().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  let follow: NodeJS.Timeout | undefined;
  try {
    console.log(`    namespace ${lab.network.name}, appliance PID ${lab.appliance.pid} at ${lab.publicUrl}, folder ${lab.dir}`);
    if (dhcpMode === 'proxy') {
      step('starting the site DHCP server (dnsmasq: addresses only, no boot options) on its own host namespace');
      site = await SiteDhcp.start({
        network: lab.network, address: '10.213.0.2', prefixLength: labAddresses.prefix,
        range: { start: labAddresses.poolStart, end: labAddresses.poolEnd }, dir: lab.dir,
      });
      console.log(`    namespace ${site.namespace}, dnsmasq PID ${site.process.pid} at 10.213.0.2, range ${labAddresses.poolStart}-${labAddresses.poolEnd}`);
    }
    step(`network-booting a QEMU VM (${firmware}, MAC ${demoVm.mac}, ${options.cpus} CPUs, ${options.memory} MiB, 2 GiB disk, ${options.accel})`);
    const started = Date.now();
    const vm = await lab.bootVm({
      // --deploy: the debian environment holds its root in RAM, and the deployed system needs ~1 GiB of disk.
      mac: demoVm.mac, uuid: demoVm.uuid, memoryMiB: options.deploy ? Math.max(1536, Number(options.memory)) : Number(options.memory),
      cpus: Number(options.cpus), diskMiB: options.deploy ? 4096 : 2048, accel: options.accel === 'kvm' ? 'kvm' : 'tcg', firmware,
      chassis: Boolean(options.deploy),
      onSerialLine: (line) => { if (/netboot-(initrd|agent)/.test(line)) console.log(`    [console] ${line.trim()}`); },
    });
    console.log(`    QEMU PID ${vm.pid}; boot events as they happen:`);
    let lastId = 0;
    follow = setInterval(() => {
      for (const event of lab.store().events.since(lastId)) {
        lastId = event.id;
        console.log(`  ${event.mac}${formatEvent(event, started)}`);
      }
    }, 250);
    const machine = await lab.waitForMachine(demoVm.mac, vm, Number(options.timeout) * 1000);
    const enlistedAfter = (Date.now() - started) / 1000;
    if (options.deploy) {
      step(`enlisted ${enlistedAfter.toFixed(1)} s after QEMU started`);
      await deployDemo(lab, vm, machine.id, step);
    } else {
      await Promise.race([vm.exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    }
    clearInterval(follow);
    if (!options.deploy) step(`enlisted ${enlistedAfter.toFixed(1)} s after QEMU started; the VM ${vm.running ? 'is still running' : 'powered itself off'}`);
    if (site) {
      const address = site.leases().find((lease) => lease.mac === demoVm.mac)?.ip ?? 'none';
      console.log(`    its address came from the site DHCP server: ${address}; netboot's lease table holds ${lab.store().leases.all().length} leases`);
    }
    console.log('\n$ netboot machines list');
    console.log(execCli(lab.dataDir, ['machines', 'list']));
    console.log(`\n$ netboot machines show ${machine.id}`);
    console.log(formatMachine(lab.store().machines.get(machine.id)!, lab.store().events.forMachine(machine.id)));
  } finally {
    clearInterval(follow);
    step(`tearing down: stopping the VM${site ? ', dnsmasq' : ''} and the appliance, removing the namespace${site ? 's' : ''}`);
    await teardown();
    process.removeListener('SIGINT', stopOnSignal);
    process.removeListener('SIGTERM', stopOnSignal);
  }
}

function execCli(dataDir: string, args: string[]): string {
  return execFileSync(process.execPath, [process.argv[1]!, '--data-dir', dataDir, ...args], { encoding: 'utf8' }).trimEnd();
}

function step(message: string): void {
  console.log(`==> ${message}`);
}
