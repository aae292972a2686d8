import type { Migration } from './index.ts';

const migration: Migration = {
  version: 10,
  name: 'reports',
  up(db) {
    void db; // TODO(owner of this migration): create the tables
  },
};
export default migration;
