// The seam between the TFTP server and what it serves. The server never touches paths itself: it asks
// a TftpFiles for a name and reads the returned source by offset (STYLE.md §5: files by id, one sanitize).

export interface TftpSource {
  /** Total size in octets (RFC 2349 tsize). */
  readonly size: number;
  /** Reads up to `length` octets at `position`; fewer only at the end of the file. */
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
  /**
   * How a transfer worker can read the same bytes (worker-pool.ts). Without one, the transfer runs in
   * the main thread. The source stays open (its fd valid) until the worker is done with it.
   */
  readonly handover?: TftpHandover;
}

/** A file's identity for the workers' content cache: same key and version, same bytes. */
export interface FileIdentity {
  /** `dev:ino`: which file. */
  readonly key: string;
  /** `size:mtimeNs:ctimeNs`: which contents; any write or replacement changes it. */
  readonly version: string;
}

/**
 * fd: an open regular file, read by position (a file descriptor is valid in every thread of the
 * process, so the worker reads what the main thread opened and checked). bytes: generated content.
 */
export type TftpHandover =
  | { readonly kind: 'fd'; readonly fd: number; readonly size: number; readonly file: FileIdentity }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array };

export interface TftpClientInfo {
  readonly address: string;
  readonly port: number;
}

export interface TftpFiles {
  /**
   * Opens the file a client asked for. `name` is the RRQ filename as sent (the server has already
   * refused NUL bytes). Returns null when there is no such file (TFTP error 1).
   */
  open(name: string, client: TftpClientInfo): Promise<TftpSource | null>;
}
