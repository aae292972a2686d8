// The workstation does not die (issue 8 line 7): the built app (browser mode) under a low limit of
// open files takes 1,000 downloads its clients abandon early and a burst of connections beyond
// that limit, and still answers afterwards, with no descriptor left open by them.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_HEADER } from '../../common/security.ts';
import { parseLaunchLink, spendLaunchCode } from '../support/launch.ts';
import { repoRoot, tempDataDir } from './harness.ts';

const LIMIT = 256;

describe.skipIf(process.platform === 'win32')(`the workstation under a limit of ${LIMIT} open files`, () => {
  let child: ChildProcess;
  let origin = '';
  let token = '';
  let out = '';

  beforeAll(async () => {
    const dataDir = tempDataDir('failsafe-guards-');
    child = spawn('bash', ['-c', `ulimit -n ${LIMIT} && exec "${process.execPath}" "${path.join(repoRoot, 'dist', 'node', 'start.mjs')}" --browser --no-open --no-hub --data-dir "${dataDir}"`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const link = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no link within 60 s: ${out}`)), 60_000);
      const take = (d: Buffer): void => {
        out += d.toString();
        const m = /Open: (\S+#launch=\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      child.stdout!.on('data', take);
      child.stderr!.on('data', take);
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const l = parseLaunchLink(link);
    origin = l.origin;
    token = await spendLaunchCode(origin, l.code);
  }, 90_000);

  afterAll(() => {
    child?.kill('SIGKILL');
  });

  const call = async (channel: string, input: unknown = {}): Promise<{ ok: boolean; value?: unknown }> => {
    const res = await fetch(`${origin}/api/${channel}`, { method: 'POST', headers: { 'content-type': 'application/json', [TOKEN_HEADER]: token }, body: JSON.stringify(input) });
    return (await res.json()) as { ok: boolean; value?: unknown };
  };
  const openFds = (): number => fs.readdirSync(`/proc/${child.pid}/fd`).length;

  it('1,000 abandoned downloads and a burst past the limit: still answering, no descriptor left behind', async () => {
    const patients = (await call('library:list')).value as { studies: { series: { seriesUid: string }[] }[] }[];
    const seriesUid = patients[0]!.studies[0]!.series[0]!.seriesUid;
    const images = (await call('series:images', { seriesUid })).value as { fileId: string }[];
    const before = openFds();
    const port = Number(new URL(origin).port);
    const abandon = (fileId: string): Promise<void> => new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: `/files/${encodeURIComponent(fileId)}`, headers: { [TOKEN_HEADER]: token }, agent: false }, (res) => {
        res.destroy();
        resolve();
      });
      req.on('error', () => resolve());
    });
    for (let batch = 0; batch < 20; batch++) await Promise.all(Array.from({ length: 50 }, (_, i) => abandon(images[(batch * 50 + i) % images.length]!.fileId)));
    // More connections at once than the process may hold files: some are refused, none is fatal.
    const sockets = await Promise.all(Array.from({ length: LIMIT + 100 }, () => new Promise<http.ClientRequest>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: `/files/${encodeURIComponent(images[0]!.fileId)}`, headers: { [TOKEN_HEADER]: token }, agent: false }, () => resolve(req));
      req.on('error', () => resolve(req));
      setTimeout(() => resolve(req), 3000);
    })));
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 500));
    expect(child.exitCode).toBeNull();
    expect((await call('app:info')).ok).toBe(true);
    await expect.poll(openFds, { timeout: 10_000 }).toBeLessThanOrEqual(before + 5);
  }, 120_000);
});
