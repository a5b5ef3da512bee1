// @convkit/io installed alone: an atomic file write and an atomic directory write, read back.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDirectoryAtomic, writeFileAtomic } from '@convkit/io';

const dir = mkdtempSync(join(tmpdir(), 'convkit-io-smoke-'));
try {
  await writeFileAtomic(join(dir, 'metrics.json'), JSON.stringify({ accuracy: 0.91 }));
  await writeDirectoryAtomic(join(dir, 'step-100'), { 'manifest.json': '{"step":100}', 'weights.bin': new Uint8Array(16) });
  const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
  const files = readdirSync(join(dir, 'step-100')).sort();
  if (metrics.accuracy !== 0.91 || files.join(',') !== 'manifest.json,weights.bin' || readdirSync(dir).length !== 2) {
    throw new Error(`unexpected result: ${JSON.stringify({ metrics, files, entries: readdirSync(dir) })}`);
  }
  console.log(`@convkit/io: wrote a file and a 2-file directory atomically, no temporary left in ${readdirSync(dir).length} entries`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
