// Real cloud-init on this host (Debian's package, installed by scripts/install-deps.sh and disabled
// with /etc/cloud/cloud-init.disabled): its schema validator and the Python MIME parser it reads
// user-data with.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `cloud-init schema --config-file`: exit code and output. */
export function cloudInitSchema(text: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'nb-schema-'));
  try {
    const file = join(dir, 'user-data');
    writeFileSync(file, text);
    const r = spawnSync('cloud-init', ['schema', '--config-file', file], { encoding: 'utf8', timeout: 60_000 });
    if (r.error) throw r.error;
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ParsedPart { contentType: string; filename: string | null; body: string }

/**
 * The parts of a MIME document as cloud-init sees them: Python's email parser, the way
 * cloudinit/user_data.py walks a multipart message (msg.walk(), skipping the multipart container).
 */
export function pythonMimeParts(text: string): ParsedPart[] {
  const script = [
    'import email, json, sys',
    'msg = email.message_from_string(sys.stdin.read())',
    'out = []',
    'for part in msg.walk():',
    '    if part.get_content_maintype() == "multipart": continue',
    '    out.append({"contentType": part.get_content_type(), "filename": part.get_filename(), "body": part.get_payload(decode=True).decode("utf-8")})',
    'print(json.dumps(out))',
  ].join('\n');
  return JSON.parse(execFileSync('python3', ['-c', script], { input: text, encoding: 'utf8' })) as ParsedPart[];
}
