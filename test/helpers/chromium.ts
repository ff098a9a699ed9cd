/**
 * Renders a page in headless Chromium (Debian's `chromium`) as a person would
 * see it: a PNG screenshot, and every console message the page produced
 * (read from Chromium's own log, `--enable-logging=stderr`), so a test can
 * require a page that draws something and logs nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = ['chromium', 'chromium-browser'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0) ?? null;

export interface PageShot {
  readonly png: Buffer;
  /** Lines of Chromium's log that carry a console message (errors, uncaught exceptions, CSP refusals, logs). */
  readonly console: readonly string[];
}

export async function screenshot(htmlPath: string, size = { width: 1200, height: 2400 }): Promise<PageShot> {
  if (!CHROMIUM) throw new Error('chromium is not installed (apt-get install chromium)');
  const dir = await mkdtemp(join(tmpdir(), 'tinyml-chromium-'));
  const shot = join(dir, 'shot.png');
  try {
    const args = [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', `--user-data-dir=${join(dir, 'profile')}`, '--enable-logging=stderr', '--v=0',
      `--window-size=${size.width},${size.height}`, `--screenshot=${shot}`, pathToFileURL(htmlPath).href,
    ];
    const stderr = await new Promise<string>((resolve, reject) => {
      const child = spawn(CHROMIUM!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(err);
        else reject(new Error(`chromium exited with ${code}:\n${err}`));
      });
    });
    const console = stderr.split('\n').filter((l) => /:CONSOLE[:(]|Uncaught/.test(l));
    return { png: await readFile(shot), console };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
