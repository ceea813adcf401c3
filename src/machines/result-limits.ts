// How much of a script's result the appliance keeps (probe F9: one 47 MB stdout made a 182 MB API
// answer). Output is kept as its tail, which holds the error that ended a failing script; files are
// kept whole or refused; a run's results together have a cap, so one machine cannot fill the disk.
import { PayloadTooLargeError } from '../errors.js';

export const resultLimits = {
  /** stdout and stderr, each: the last this many bytes. */
  outputBytes: 1024 * 1024,
  /** One file a script leaves behind (inventory.json, lshw.xml, ...). */
  fileBytes: 8 * 1024 * 1024,
  /** Everything kept of one run's results. */
  runBytes: 32 * 1024 * 1024,
} as const;

/** The last `max` bytes of an output, after a line saying how much was cut. */
export function outputTail(output: Buffer, max: number = resultLimits.outputBytes): Buffer {
  if (output.length <= max) return output;
  const cut = output.length - max;
  return Buffer.concat([Buffer.from(`[netboot: the first ${cut} bytes of this output were not kept]\n`), output.subarray(cut)]);
}

/** Throws when a file, or the run with this result in it, is over its cap. */
export function checkResultSize(files: Readonly<Record<string, Buffer>>, kept: number, runBytesBefore: number): void {
  for (const [name, bytes] of Object.entries(files)) {
    if (bytes.length > resultLimits.fileBytes) {
      throw new PayloadTooLargeError(`file ${name} is ${bytes.length} bytes; a result file may have at most ${resultLimits.fileBytes}`);
    }
  }
  if (runBytesBefore + kept > resultLimits.runBytes) {
    throw new PayloadTooLargeError(`this run already keeps ${runBytesBefore} bytes of results; with this one it would pass the cap of ${resultLimits.runBytes}`);
  }
}
