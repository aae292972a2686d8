// The hub session (token and user) is kept out of the database, in an owner-only file beside it
// (browser mode), or encrypted with the OS keychain (the desktop app: test/main/electron); a
// session an older version kept in the database moves out at start (issue 8 finding 4).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkstationHub } from '../../../main/hub/WorkstationHub.ts';
import { fileVault, type SecretCodec } from '../../../main/hub/sessionVault.ts';
import { workstation } from '../../support/syncWorkstation.ts';
import { tempDir } from '../reports/fixtures.ts';

const session = { token: 'fsh_secret-token-value', user: { username: 'ada', name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567' }, expiresAt: '2099-01-01T00:00:00.000Z' };

describe('the hub session vault', () => {
  it('moves a session an older version kept in the database into an owner-only file beside it, and out of the database', () => {
    const ws = workstation();
    ws.store.setSetting('hub.session', JSON.stringify(session));
    const hub = new WorkstationHub({ baseUrl: 'http://127.0.0.1:9', embedded: false, db: ws.db, reports: ws.store });
    expect(hub.status().user).toMatchObject({ username: 'ada' });
    expect(ws.store.getSetting('hub.session')).toBeNull();
    const file = path.join(path.dirname(ws.file), 'hub-session');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(session);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // The database file itself no longer holds the token (a copied database carries no session).
    ws.db.exec('VACUUM');
    ws.db.pragma('wal_checkpoint(TRUNCATE)');
    expect(fs.readFileSync(ws.file).includes(Buffer.from(session.token))).toBe(false);
    // Kept across a restart of the workstation.
    expect(new WorkstationHub({ baseUrl: 'http://127.0.0.1:9', embedded: false, db: ws.db, reports: ws.store }).status().user).toMatchObject({ username: 'ada' });
  });

  it('writes owner only whatever the umask, replaces the file whole, and removes it on log out', () => {
    const file = path.join(tempDir('vault'), 'hub-session');
    const old = process.umask(0);
    try {
      const v = fileVault(file);
      v.write('first');
      v.write('second');
      expect(fs.readFileSync(file, 'utf8')).toBe('second');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.readdirSync(path.dirname(file))).toEqual(['hub-session']);
      v.write(null);
      expect(fs.existsSync(file)).toBe(false);
      expect(v.read()).toBeNull();
    } finally {
      process.umask(old);
    }
  });

  it('encrypted: never the plain text on disk; a file the keychain cannot open (another account, a new keychain) is dropped: log in again', () => {
    const file = path.join(tempDir('vault'), 'hub-session');
    let key = 0x21;
    const codec: SecretCodec = {
      kind: 'test keychain',
      encrypt: (t) => Buffer.concat([Buffer.from([key]), Buffer.from(t).map((b) => b ^ key)]),
      decrypt: (d) => {
        if (d[0] !== key) throw new Error('wrong key');
        return Buffer.from(d.subarray(1).map((b) => b ^ key)).toString();
      },
    };
    const v = fileVault(file, codec);
    v.write(JSON.stringify(session));
    expect(fs.readFileSync(file).includes(Buffer.from(session.token))).toBe(false);
    expect(JSON.parse(v.read()!)).toEqual(session);
    key = 0x42;
    expect(v.read()).toBeNull();
    expect(fs.existsSync(file)).toBe(false);
  });
});
