import { MemoryStore } from '../../src/stores/memory.js';
import { describeStoreContract } from './_contract.js';

describeStoreContract('MemoryStore', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});
