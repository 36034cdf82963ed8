/**
 * Atomic file writes: write a temp file in the same folder, fsync, rename over the target. A crash or
 * kill -9 at any moment leaves either the old file or the new one, never a partial one.
 */
import * as fs from 'fs';
import * as path from 'path';

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  try {
    const dfd = fs.openSync(dir, 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
  } catch {
    // fsync on a directory is not supported everywhere (Windows); the rename is still atomic.
  }
}

/** Remove temp files a killed writer may have left behind. */
export function removeStaleTemps(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const f of fs.readdirSync(dir)) if (f.startsWith('.') && f.endsWith('.tmp')) fs.rmSync(path.join(dir, f), { force: true });
}
