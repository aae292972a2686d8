// The signer's password check while the hub cannot be reached (issue 7 line 5). The hub checks the
// password asked before signing; when it is unreachable, a report must still be signable (it waits
// in the outbox, and a critical finding is phoned through), so the workstation checks it against a
// verifier made from the password at this session's log in: a salted scrypt key held in memory
// only, never stored or logged, gone at log out or restart (then only the hub can confirm). After
// OFFLINE_MAX_FAILURES wrong passwords it is dropped: the hub, which counts towards lockout, must
// confirm the next one.
import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (pw: crypto.BinaryLike, salt: crypto.BinaryLike, len: number, opts: crypto.ScryptOptions) => Promise<Buffer>;
const COST = { N: 1 << 14, r: 8, p: 1 } as const;

export const OFFLINE_MAX_FAILURES = 5;

export class OfflineVerifier {
  private failures = 0;

  private constructor(
    private readonly salt: Buffer,
    private readonly key: Buffer,
  ) {}

  static async fromPassword(password: string): Promise<OfflineVerifier> {
    const salt = crypto.randomBytes(16);
    return new OfflineVerifier(salt, await scrypt(password.normalize('NFC'), salt, 32, COST));
  }

  /** 'exhausted': too many wrong passwords; this verifier answers nothing more. */
  async check(password: string): Promise<'ok' | 'wrong' | 'exhausted'> {
    if (this.failures >= OFFLINE_MAX_FAILURES) return 'exhausted';
    const key = await scrypt(password.normalize('NFC'), this.salt, 32, COST);
    if (crypto.timingSafeEqual(key, this.key)) {
      this.failures = 0;
      return 'ok';
    }
    this.failures += 1;
    return this.failures >= OFFLINE_MAX_FAILURES ? 'exhausted' : 'wrong';
  }
}
