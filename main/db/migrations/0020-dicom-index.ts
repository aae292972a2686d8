import type { Migration } from './index.ts';

const migration: Migration = {
  version: 20,
  name: 'dicom-index',
  up(db) {
    void db; // TODO(owner of this migration): create the tables
  },
};
export default migration;
