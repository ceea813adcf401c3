// One catalogue of typed errors (STYLE.md §7, after fastify lib/errors.js and nats errors.ts).
// Codes are NB_ERR_<AREA>_<WHAT>; a test checks they are unique. Expected non-answers (a DHCP packet
// we ignore) are values, not errors.

export interface NetbootErrorOptions {
  cause?: unknown;
}

export abstract class NetbootError extends Error {
  abstract readonly code: string;
  /** HTTP status where the error reaches an HTTP client. */
  readonly statusCode: number = 500;
  constructor(message: string, options: NetbootErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

export class ConfigError extends NetbootError {
  readonly code = 'NB_ERR_CONFIG_INVALID';
}

export class StoreError extends NetbootError {
  readonly code = 'NB_ERR_STORE_FAILED';
}

export class NotFoundError extends NetbootError {
  readonly code = 'NB_ERR_NOT_FOUND';
  override readonly statusCode = 404;
}

export class ValidationError extends NetbootError {
  readonly code = 'NB_ERR_REQUEST_INVALID';
  override readonly statusCode = 400;
}

export class ImageError extends NetbootError {
  readonly code = 'NB_ERR_IMAGE_INVALID';
}

export class ImageMissingError extends NetbootError {
  readonly code = 'NB_ERR_IMAGE_MISSING';
  override readonly statusCode = 503;
}

export class LabError extends NetbootError {
  readonly code = 'NB_ERR_LAB_FAILED';
}

/** An action the machine's state (or lock) does not allow; the message names the state. */
export class ConflictError extends NetbootError {
  readonly code = 'NB_ERR_STATE_CONFLICT';
  override readonly statusCode = 409;
}

/** A body within the request limit that is still more than the appliance keeps. */
export class PayloadTooLargeError extends NetbootError {
  readonly code = 'NB_ERR_PAYLOAD_TOO_LARGE';
  override readonly statusCode = 413;
}

/** No credentials, or wrong or expired ones (401; the message says which). */
export class UnauthorizedError extends NetbootError {
  readonly code = 'NB_ERR_AUTH_FAILED';
  override readonly statusCode = 401;
}

/** Valid credentials for something else (another machine's token). */
export class ForbiddenError extends NetbootError {
  readonly code = 'NB_ERR_AUTH_FORBIDDEN';
  override readonly statusCode = 403;
}

/** A power driver could not reach or command the machine's power control (QMP socket, BMC). */
export class PowerError extends NetbootError {
  readonly code = 'NB_ERR_POWER_FAILED';
  override readonly statusCode = 502; // the power controller failed, not this appliance
}

export class CloudInitError extends NetbootError {
  readonly code = 'NB_ERR_CLOUDINIT_FAILED';
  override readonly statusCode = 500; // a document we rendered is broken, or cloud-init cannot run here
}

export class TftpWorkerError extends NetbootError {
  readonly code = 'NB_ERR_TFTP_WORKER';
}

/** A script cannot be put in a machine's bundle as stored (probe F8): skipped, never written unquoted. */
export class BundleError extends NetbootError {
  readonly code = 'NB_ERR_SCRIPT_UNSAFE';
}

/** A listener could not bind its address or port; the message names the listener and the key to change. */
export class ListenError extends NetbootError {
  readonly code = 'NB_ERR_LISTEN_FAILED';
}

/** Another netboot holds the data directory (its lock file). */
export class DataDirLockedError extends NetbootError {
  readonly code = 'NB_ERR_STORE_LOCKED';
}

/** Every error class, for the uniqueness test and for `netboot` to print codes consistently. */
export const errorCatalogue = [
  ConfigError, StoreError, NotFoundError, ValidationError, ImageError, ImageMissingError, LabError,
  ConflictError, PayloadTooLargeError, UnauthorizedError, ForbiddenError, PowerError, CloudInitError, TftpWorkerError,
  BundleError, ListenError, DataDirLockedError,
] as const;
