// A multipart/mixed MIME document (RFC 2046 §5.1) as cloud-init reads user-data (Python's email
// parser, cloud-init's "mime multi part archive" format). Written by hand: the few lines below are
// the whole format we need, and the npm MIME builders (nodemailer's and the like) are mail composers
// that add headers and random boundaries, which would break our exact-text goldens.
import { createHash } from 'node:crypto';

export interface MimePart {
  /** Shown by cloud-init in its logs and used for the part's file under /var/lib/cloud/instance. */
  readonly filename: string;
  /** text/cloud-config, text/x-shellscript, ... (cloud-init's part handlers key on it). */
  readonly contentType: string;
  readonly body: string;
}

export function multipart(parts: readonly MimePart[]): string {
  // Deterministic (same parts, same bytes) and, being a digest of the bodies, absent from them.
  const digest = createHash('sha256');
  for (const part of parts) digest.update(part.contentType).update('\0').update(part.body).update('\0');
  const boundary = `==netboot-${digest.digest('hex').slice(0, 32)}==`;
  if (parts.some((p) => p.body.includes(boundary))) throw new Error('MIME boundary found inside a part');
  const lines = ['Content-Type: multipart/mixed; boundary="' + boundary + '"', 'MIME-Version: 1.0', ''];
  for (const part of parts) {
    // 8bit: bodies are UTF-8 text with LF line ends, which Python's email parser takes as is.
    lines.push(
      `--${boundary}`,
      `Content-Type: ${part.contentType}; charset="utf-8"`,
      'MIME-Version: 1.0',
      'Content-Transfer-Encoding: 8bit',
      `Content-Disposition: attachment; filename="${part.filename}"`,
      '',
      // The line break before a boundary belongs to the boundary (RFC 2046 §5.1.1): the body keeps
      // its own final newline only with one more.
      part.body,
    );
  }
  lines.push(`--${boundary}--`, '');
  return lines.join('\n');
}
