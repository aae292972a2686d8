// The launcher's options: the same parsing for `npm start` and the Electron main process, so
// both shells pick the same data folder and the same hub.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { earlierDataHint, launchArgs, LaunchOptionsError, parseLaunchArgs } from '../../../main/launch/options.ts';
import { defaultDataDir } from '../../../main/paths.ts';

describe('launcher options', () => {
  it('defaults: the embedded hub, the browser opened; from a checkout demo mode in a data folder of its own, installed the per-user folder without demo', () => {
    const env = { XDG_DATA_HOME: '/home/u/.data' };
    expect(parseLaunchArgs([], env)).toEqual({ dataDir: `${defaultDataDir(env)}-demo`, demo: true, hub: { kind: 'embedded' }, browser: false, open: true, testTimings: false });
    expect(parseLaunchArgs([], env, { packaged: true })).toMatchObject({ dataDir: defaultDataDir(env), demo: false });
  });

  it('an explicit data folder (flag or FAILSAFE_DATA_DIR) is never demo mode unless --demo asks for it (issue 8 line 8)', () => {
    expect(parseLaunchArgs(['--data-dir', '/srv/ws'], {})).toMatchObject({ dataDir: '/srv/ws', demo: false });
    expect(parseLaunchArgs([], { FAILSAFE_DATA_DIR: '/srv/ws2' })).toMatchObject({ dataDir: '/srv/ws2', demo: false });
    expect(parseLaunchArgs(['--data-dir', '/srv/ws', '--demo'], {})).toMatchObject({ dataDir: '/srv/ws', demo: true });
    expect(parseLaunchArgs(['--demo'], { XDG_DATA_HOME: '/x' }, { packaged: true })).toMatchObject({ dataDir: '/x/failsafe-demo', demo: true });
    // The Electron child launched by npm start gets the same mode.
    expect(launchArgs(parseLaunchArgs([], { XDG_DATA_HOME: '/x' }))).toEqual(['--data-dir=/x/failsafe-demo', '--demo']);
    expect(launchArgs(parseLaunchArgs(['--data-dir', '/srv/ws'], {}))).toEqual(['--data-dir=/srv/ws']);
  });

  it('--hub URL or FAILSAFE_HUB_URL name the department hub; the flag wins; --no-hub wins over the environment', () => {
    expect(parseLaunchArgs(['--hub', 'http://hub.example.org:8787/'], {}).hub).toEqual({ kind: 'department', url: 'http://hub.example.org:8787' });
    expect(parseLaunchArgs([], { FAILSAFE_HUB_URL: 'https://hub.trust.nhs.uk' }).hub).toEqual({ kind: 'department', url: 'https://hub.trust.nhs.uk' });
    expect(parseLaunchArgs(['--hub=http://a:1'], { FAILSAFE_HUB_URL: 'http://b:2' }).hub).toEqual({ kind: 'department', url: 'http://a:1' });
    expect(parseLaunchArgs(['--no-hub'], { FAILSAFE_HUB_URL: 'http://b:2' }).hub).toEqual({ kind: 'none' });
    expect(parseLaunchArgs([], { FAILSAFE_HUB_URL: '' }).hub).toEqual({ kind: 'embedded' });
  });

  it('refuses what would leave the workstation silently unsynced or misconfigured, saying why', () => {
    expect(() => parseLaunchArgs(['--hub', 'hub.example.org'], {})).toThrow(/--hub must be the hub's address, like http/);
    expect(() => parseLaunchArgs([], { FAILSAFE_HUB_URL: 'ftp://hub' })).toThrow(/FAILSAFE_HUB_URL must be an http:\/\/ or https:\/\/ address/);
    expect(() => parseLaunchArgs(['--hub', 'http://a', '--no-hub'], {})).toThrow(/not both/);
    expect(() => parseLaunchArgs(['--port', 'eighty'], {})).toThrow(/--port must be a number/);
    expect(() => parseLaunchArgs(['--port', '70000'], {})).toThrow(LaunchOptionsError);
    expect(() => parseLaunchArgs(['--hubb', 'http://a'], {})).toThrow(/Unknown option '--hubb'/);
  });

  it('in Electron, ignores the app path and Chromium switches but reads ours', () => {
    const o = parseLaunchArgs(['/opt/Failsafe/electron', '/app/dist/electron/main.cjs', '--data-dir=/d', '--no-hub', '--no-sandbox', '--inspect=9229'], {}, { strict: false });
    expect(o).toMatchObject({ dataDir: path.resolve('/d'), hub: { kind: 'none' } });
  });

  it('launchArgs gives another process the same data folder and hub', () => {
    for (const argv of [['--data-dir', '/x'], ['--data-dir', '/x', '--no-hub'], ['--data-dir', '/x', '--hub', 'http://h:1']]) {
      const o = parseLaunchArgs(argv, {});
      const again = parseLaunchArgs(launchArgs(o), {});
      expect({ dataDir: again.dataDir, hub: again.hub }).toEqual({ dataDir: o.dataDir, hub: o.hub });
    }
  });

  it('CI or --no-open: no browser; FAILSAFE_TEST_TIMINGS=1: short test timings', () => {
    expect(parseLaunchArgs(['--no-open'], {}).open).toBe(false);
    expect(parseLaunchArgs([], { CI: 'true' }).open).toBe(false);
    expect(parseLaunchArgs(['--browser', '--port', '8080'], { FAILSAFE_TEST_TIMINGS: '1' })).toMatchObject({ browser: true, port: 8080, testTimings: true });
  });
});

describe('demo mode and earlier data', () => {
  it('says where data from before demo mode is, and how to open it; nothing when there is none or the folder was chosen', () => {
    const env = { XDG_DATA_HOME: '/home/u/.data' };
    const demo = parseLaunchArgs([], env);
    const has = (f: string): boolean => f === '/home/u/.data/failsafe/failsafe.sqlite';
    expect(earlierDataHint(demo, env, has)).toBe('Demo mode keeps its data in /home/u/.data/failsafe-demo. Your earlier data is in /home/u/.data/failsafe: start with --data-dir "/home/u/.data/failsafe" to open it (without demo accounts).');
    expect(earlierDataHint(demo, env, () => false)).toBeNull();
    expect(earlierDataHint(parseLaunchArgs(['--data-dir', '/srv/ws'], env), env, has)).toBeNull();
  });
});
