// The TFTP wire format (RFC 1350, RFC 2347 OACK), pure: bytes in, values out.
export { ackBlock, decodeTftp } from './decode.js';
export { encodeTftp, writeDataHeader } from './encode.js';
export { DecodeError, EncodeError } from './errors.js';
export {
  DATA_HEADER_LENGTH, ErrorCode, MAX_BLOCK, Opcode, opcodeName,
  type AckPacket, type DataPacket, type ErrorPacket, type OackPacket, type RequestPacket, type TftpOption,
  type TftpPacket,
} from './packet.js';
export { renderPacket } from './render.js';
