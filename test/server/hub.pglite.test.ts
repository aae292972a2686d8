// The same behaviour on embedded PGlite (one in-memory instance for this file).
import { defineHubSuite } from './hubSuite.ts';

defineHubSuite('pglite');
