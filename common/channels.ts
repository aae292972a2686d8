// The names of every channel of the `window.failsafe` contract. Kept free of zod so that the
// preload bundle (which only forwards calls) stays tiny; `contract.ts` checks it has a schema
// for each name and no other.
export const CHANNELS = [
  'app:info',
  'profile:get',
  'profile:set',
  'library:list',
  'library:openFolder',
  'library:importFiles',
  'library:pickFolder',
  'library:errors',
  'series:images',
  'study:priors',
  'reports:open',
  'reports:get',
  'reports:save',
  'reports:list',
  'reports:sign',
  'reports:verify',
  'reports:addendum',
  'reports:correct',
  'reports:audit',
  'reports:revisions',
  'reports:close',
  'hub:status',
  'hub:login',
  'hub:createFirstUser',
  'hub:logout',
  'hub:confirmSigner',
  'sync:status',
  'sync:statuses',
  'sync:retry',
  'sync:recordPhone',
  'alerts:forReport',
  'alerts:mine',
  'unfinished:list',
  'unfinished:takeOver',
] as const;

export type Channel = (typeof CHANNELS)[number];

/** Electron IPC channel names are prefixed so main can reject anything else. */
export const IPC_PREFIX = 'failsafe:';
