// The first account of an installed app's embedded hub (no demo mode: no demo accounts to log in
// with). GET tells the workstation whether the hub still waits for it; POST creates it, once: the
// hub has no other account then, and two first users at once make one (auth.ts createFirstUser).
// Only the embedded hub serves these, and only to its own workstation (loopbackOnly, app.ts); a
// department hub's accounts come from `npm run hub -- user add`.
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { FirstUserRequest, HUB_PATHS, type HubUser, type SetupState } from '../common/hub.ts';
import { awaitingFirstUser, createFirstUser } from './auth.ts';
import type { HubDb } from './db/adapter.ts';
import { HubError } from './errors.ts';

/** `parse`: the hub's body parser (app.ts: zod schema, then storable text). */
export function registerFirstUserSetup(app: FastifyInstance, db: HubDb, parse: <T extends z.ZodType>(schema: T, value: unknown, what: string) => z.output<T>): void {
  app.get(HUB_PATHS.setup, async (): Promise<SetupState> => ({ awaitingFirstUser: await awaitingFirstUser(db) }));
  app.post(HUB_PATHS.setup, async (req, reply): Promise<{ user: HubUser }> => {
    const body = parse(FirstUserRequest, req.body, 'first account');
    const user = await createFirstUser(db, body);
    if (!user) throw new HubError(409, 'first-user-exists', 'This hub has its first account already: log in, or ask its owner to add yours.');
    void reply.code(201);
    return { user };
  });
}
