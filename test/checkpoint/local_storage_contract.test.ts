import * as fs from 'fs';
import { blockingFsLayer } from '../../src/checkpoint/blocking_fs_layer';
import { LocalCheckpointStorage } from '../../src/checkpoint/local_storage';
import { RecordingLogger, tempDir } from './helpers';
import { describeStorageContract } from './storage_contract';

// The contract's fake clock drives the lock's heartbeat and staleness; take-over warnings are expected
// there and kept out of the test output.
describeStorageContract('LocalCheckpointStorage', async ({ now, lockStaleMs }) => {
  const dir = tempDir('contract');
  const storage = await LocalCheckpointStorage.open(dir, { now, lockStaleMs, logger: new RecordingLogger() });
  return { storage, cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});

// The same storage on the file layer the checkpoint writer's worker uses (synchronous calls).
describeStorageContract('LocalCheckpointStorage on the writer thread\'s blocking file layer', async ({ now, lockStaleMs }) => {
  const dir = tempDir('contract-blocking');
  const storage = await LocalCheckpointStorage.open(dir, { now, lockStaleMs, logger: new RecordingLogger(), fs: blockingFsLayer() });
  return { storage, cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});
