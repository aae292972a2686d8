// The hub's behaviour on real PostgreSQL (DATABASE_URL, else 127.0.0.1:5432/test), in a schema of
// its own that is dropped afterwards.
import { defineHubSuite } from './hubSuite.ts';

defineHubSuite('postgres');
