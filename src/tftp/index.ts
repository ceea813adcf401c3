// Public surface of src/tftp (STYLE.md §6): the server for main.ts, the file seams, and the policy
// and codec for tests and tools. Other areas import from here only.
export {
  startTftpServer, type TftpServer, type TftpServerDeps, type TftpTransferEvent,
} from './server.js';
export { tftpTimelineEvent } from './timeline.js';
export type { TftpClientInfo, TftpFiles, TftpSource } from './files.js';
export { directoryFiles, sanitize } from './directory-files.js';
export { bufferSource } from './buffer-source.js';
export { tftpNamespace, type TftpNamespaceDeps } from './namespace.js';
export {
  checkRequest, defaultLimits, maxBlksizeFor, negotiate,
  type RequestCheck, type TftpLimits, type TransferParameters,
} from './negotiate.js';
export {
  ReadSession, type EndKind, type ReadRequest, type SessionEnd, type SessionParameters, type Step,
} from './session.js';
export {
  decodeTftp, DecodeError, encodeTftp, EncodeError, ErrorCode, Opcode, renderPacket,
  type TftpOption, type TftpPacket,
} from './codec/index.js';
