// The DHCPv4/BOOTP wire format (RFC 2131, RFC 2132 and extensions), pure: bytes in, values out.
export { decodeDhcp } from './decode.js';
export { encodeDhcp } from './encode.js';
export { DecodeError, EncodeError } from './errors.js';
export { formatHex, formatHexColons } from './hex.js';
export {
  formatIpv4, isIpv4, LIMITED_BROADCAST, parseIpv4, ZERO_ADDRESS,
} from './ipv4.js';
export {
  optionByCode, optionByName, optionTable,
  type DhcpOptions, type OptionCode, type OptionEntry, type OptionName,
} from './option-table.js';
export {
  decodeSubOptions, encodeSubOptions,
  type ClientIdentifier, type ClientMachineId, type EncapsulatedOptions, type KindValues,
  type OptionKind, type RelayAgentInformation, type UserClass,
} from './option-values.js';
export {
  BootOp, BROADCAST_FLAG, HTYPE_ETHERNET, Layout, MAGIC_COOKIE, MessageType, messageTypeName,
  MIN_BOOTP_MESSAGE_LENGTH, type DhcpPacket,
} from './packet.js';
export { renderPacket } from './render.js';
