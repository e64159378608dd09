/** The connection settings (client.ts resolves and opens them; dev-keys.ts makes the development drop's), apart so neither imports the other. */
/** Everything needed to open an SFTP session to the drop. Holds secrets: never log it. */
export interface DropConnection {
  host: string;
  port: number;
  username: string;
  privateKey: string | Buffer;
  passphrase?: string;
  /** Pinned host key fingerprint, "SHA256:...". */
  hostKeySha256: string;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  /** An SFTP operation with no progress for this long drops the connection (default STALL_TIMEOUT_MS). */
  stallTimeoutMs?: number;
}

/** drop.stallTimeoutMs's default: two minutes without an answer, or without a byte of a download. */
export const STALL_TIMEOUT_MS = 120_000;
