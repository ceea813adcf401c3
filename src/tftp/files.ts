// The seam between the TFTP server and what it serves. The server never touches paths itself: it asks
// a TftpFiles for a name and reads the returned source by offset (STYLE.md §5: files by id, one sanitize).

export interface TftpSource {
  /** Total size in octets (RFC 2349 tsize). */
  readonly size: number;
  /** Reads up to `length` octets at `position`; fewer only at the end of the file. */
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

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
