/**
 * tfjs-resumable: TensorFlow.js training in Node that survives preemption.
 * @packageDocumentation
 */
export * from './errors';
export * from './hooks/session_run_hook';
export * from './hooks/training_session';
export type { BatchSeal, CheckpointStorage, FileContent, StorageStat } from './checkpoint/storage';
export type { DatasetState, JsonValue } from './data/state';
export { HookCallback, type HookCallbackOptions, type DisposableHook, type BatchLogs } from './hooks/hook_callback';
export { SecondOrStepTimer, type TimerOptions } from './hooks/timer';
export { StopAtStepHook, type StopAtStepOptions } from './hooks/stop_at_step_hook';
export { StepCounterHook, type StepCounterHookOptions } from './hooks/step_counter_hook';
export { SummarySaverHook, STEPS_PER_SEC_TAG, type SummarySaverHookOptions } from './hooks/summary_saver_hook';
export { LoggingTensorHook, type LoggingTensorHookOptions } from './hooks/logging_tensor_hook';
export { NanTensorHook, type NanTensorHookOptions } from './hooks/nan_tensor_hook';
export { PreemptionHook, type PreemptionHookOptions, type SignalSource } from './hooks/preemption_hook';
export {
  HookError,
  NanLossDuringTrainingError,
  StopStepAlreadyReachedError,
  ModelNotReachableError,
  TfjsNodeRequiredError,
} from './hooks/errors';
export { RunConfig, type RunConfigOptions } from './estimator/run_config';
export { checkDeterminism, type DeterminismCheckOptions } from './estimator/determinism_check';
export { useFastestBackend, NoBackendError, type BackendChoice, type BackendName, type UseFastestBackendOptions } from './backend';
export * as data from './data';
export { CheckpointableDataset, CheckpointableIterator, PipelineMismatchError, StateFormatError } from './data';
export { encodeDatasetState, decodeDatasetState, DATASET_STATE_FORMAT_VERSION } from './data';
export type { IteratorState, LegacyIteratorState } from './data';
export { makeSaveableFromIterator, INPUT_PIPELINE_SAVEABLE_NAME, type Saveable } from './data/saveable';
export {
  CheckpointInputPipelineHook,
  NoCheckpointableInputError,
  type InputCheckpointEstimator,
  type CheckpointInputPipelineHookOptions,
} from './hooks/checkpoint_input_pipeline_hook';
export { CheckpointSaverHook, type CheckpointSaverHookOptions } from './hooks/checkpoint_saver_hook';
export { CheckpointWriter, type CheckpointWriterOptions, type SaveResult } from './checkpoint/checkpoint_writer';
export type { WriteJob, ModelWriteJob, BlobWriteJob } from './checkpoint/write_job';
export type { WorkerStorageDescription } from './checkpoint/storage';
export { CheckpointSaverListener } from './hooks/checkpoint_saver_listener';
export { Estimator, type EstimatorOptions, type TrainOptions, type EvaluateOptions, type InputFn, type EstimatorInput } from './estimator/estimator';
export {
  resumableFit,
  FIT_POSITION_SAVEABLE_NAME,
  DEFAULT_SAVE_SECS,
  type ResumableFitOptions,
  type ResumableFitResult,
  type FitPosition,
} from './estimator/resumable_fit';
export { LocalCheckpointStorage, type LocalCheckpointStorageOptions } from './checkpoint/local_storage';
export { acquireCheckpointLock, DEFAULT_LOCK_WAIT_MS, type LockWaitOptions, type HeldLock } from './checkpoint/lock_wait';
export type { FsLayer, FsStat } from './checkpoint/fs_layer';
export { realFsLayer } from './checkpoint/fs_layer';
export { type CheckpointLogger, consoleLogger } from './checkpoint/logger';
export {
  saveCheckpoint,
  writeCheckpoint,
  restoreLatest,
  listCheckpoints,
  verifyCheckpoints,
  DEFAULT_KEEP_CHECKPOINT_MAX,
  type RestoredCheckpoint,
  type RestoreOptions,
  type SaveCheckpointOptions,
  type CheckpointInfo,
  type ModelDirOrStorage,
} from './checkpoint/checkpoint_manager';
export { checkpointModelHandler } from './checkpoint/checkpoint_manager';
export {
  CHECKPOINT_FORMAT_VERSION,
  MODEL_CHECKPOINT_PREFIX,
  MODEL_INDEX_NAME,
  DEFAULT_LIMITS,
  type CheckpointMeta,
  type CheckpointState,
  type CheckpointLimits,
  type FileRecord,
} from './checkpoint/model_checkpoint';
export { snapshotModel, type ModelSnapshot, type OptimizerSnapshot } from './checkpoint/model_snapshot';
export type { TensorData, TensorSpec, CheckpointDtype } from './checkpoint/tensor_data';
export { BlobCheckpointStore, type BlobCheckpointStoreOptions, type StepBlob } from './checkpoint/blob_checkpoint_store';
export {
  openStorage,
  parseModelDir,
  UnsupportedModelDirError,
  type OpenStorageOptions,
  type ModelDirLocation,
} from './checkpoint/open_storage';
export { S3CheckpointStorage, type S3CheckpointStorageOptions, type S3Credentials } from './checkpoint/s3_storage';
export { parseS3Url, isS3Url, type S3Location } from './checkpoint/s3_url';
export { S3EndpointUnreachableError, S3AccessDeniedError, S3CredentialsMissingError, S3BucketNotFoundError, S3ThrottledError } from './checkpoint/s3_errors';
export { main as runCli, ExitCode, type CliIo } from './cli';
export type { StatefulCallback } from './hooks/callback_state';
export { currentBackendFingerprint, type BackendFingerprint } from './backend_fingerprint';
