// The least a Node.js TFTP server can do per block: RFC 1350 lock-step at 512 octets, no options
// (clients fall back to plain lock-step without an OACK), no codec, no session, the file in memory,
// a connected socket per transfer. bench.ts runs it as `--servers node-floor` to show how much of
// the gap to the C servers in lock-step is Node's dgram layer rather than netboot's code.
//   node <compiled>/bench/tftp/node-floor.js ROOT PORT      (serves ROOT/file.bin only)
import { Buffer } from 'node:buffer';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [root, port] = process.argv.slice(2);
if (!root || !port) throw new Error('usage: node-floor.js ROOT PORT');
const file = readFileSync(join(root, 'file.bin'));
const lastBlock = Math.floor(file.length / 512) + 1;
const notFound = Buffer.from('\0\x05\0\x01File not found\0', 'latin1');

const listener = createSocket('udp4');
listener.on('message', (request, from) => {
  const name = request.toString('latin1', 2, request.indexOf(0, 2));
  if (name !== 'file.bin') {
    listener.send(notFound, from.port, from.address);
    return;
  }
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1', () => socket.connect(from.port, from.address, () => {
    let block = 1;
    const send = (): void => {
      const data = file.subarray((block - 1) * 512, block * 512);
      const packet = Buffer.allocUnsafe(4 + data.length);
      packet.writeUInt32BE(0x00030000 | (block & 0xffff), 0);
      data.copy(packet, 4);
      socket.send(packet);
    };
    socket.on('message', (ack) => {
      if (ack.length < 4 || ack.readUInt16BE(2) !== (block & 0xffff)) return;
      if (block === lastBlock) return socket.close();
      block++;
      send();
    });
    send();
  }));
});
listener.bind(Number(port), '127.0.0.1');
process.once('SIGTERM', () => process.exit(0));
