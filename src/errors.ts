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

/** Every error class, for the uniqueness test and for `netboot` to print codes consistently. */
export const errorCatalogue = [
  ConfigError, StoreError, NotFoundError, ValidationError, ImageError, ImageMissingError, LabError,
] as const;
