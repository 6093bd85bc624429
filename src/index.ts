/**
 * tfjs-resumable: TensorFlow.js training in Node that survives preemption.
 *
 * The top level holds what a user calls, implements or catches; the checkpointable pipeline lives under `data`
 * (like `tf.data`), and the option/result types of everything here under `types` (type-only).
 * @packageDocumentation
 */
// Training entry points.
export { resumableFit } from './estimator/resumable_fit';
export { Estimator } from './estimator/estimator';
export { RunConfig } from './estimator/run_config';
export { checkDeterminism } from './estimator/determinism_check';
export { useFastestBackend, NoBackendError } from './backend';
export * as data from './data';
export type * as types from './types';

// The SessionRunHook machinery and TF's standard hooks.
export { SessionRunHook, SessionRunArgs, SessionRunContext, type SessionRunValues, type Coordinator } from './hooks/session_run_hook';
export { TrainingSession } from './hooks/training_session';
export { HookCallback } from './hooks/hook_callback';
export { SecondOrStepTimer } from './hooks/timer';
export { StopAtStepHook } from './hooks/stop_at_step_hook';
export { StepCounterHook } from './hooks/step_counter_hook';
export { SummarySaverHook } from './hooks/summary_saver_hook';
export { LoggingTensorHook } from './hooks/logging_tensor_hook';
export { NanTensorHook } from './hooks/nan_tensor_hook';
export { PreemptionHook } from './hooks/preemption_hook';
export { CheckpointSaverHook } from './hooks/checkpoint_saver_hook';
export { CheckpointWriter } from './checkpoint/checkpoint_writer';
export { prepareSnapshot } from './checkpoint/model_snapshot';
export { CheckpointSaverListener } from './hooks/checkpoint_saver_listener';
export { CheckpointInputPipelineHook } from './hooks/checkpoint_input_pipeline_hook';
export { makeSaveableFromIterator } from './data/saveable';

// Checkpoints and where they live.
export { saveCheckpoint, restoreLatest, listCheckpoints, verifyCheckpoints, checkpointModelHandler } from './checkpoint/checkpoint_manager';
export type { CheckpointStorage } from './checkpoint/storage';
export { openStorage } from './checkpoint/open_storage';
export { LocalCheckpointStorage } from './checkpoint/local_storage';
export { acquireCheckpointLock } from './checkpoint/lock_wait';
export { S3CheckpointStorage } from './checkpoint/s3_storage';

// Typed errors a user catches (data's PipelineMismatchError and StateFormatError are under `data`).
export {
  ResumableError,
  InvalidArgumentError,
  CheckpointError,
  CheckpointNotFoundError,
  CorruptCheckpointError,
  CheckpointLockError,
  CheckpointLockHeldError,
  CheckpointWriterError,
} from './errors';
export { UnsupportedModelDirError } from './checkpoint/open_storage';
export {
  S3EndpointUnreachableError,
  S3AccessDeniedError,
  S3CredentialsMissingError,
  S3BucketNotFoundError,
  S3ThrottledError,
} from './checkpoint/s3_errors';
export { HookError, NanLossDuringTrainingError, StopStepAlreadyReachedError, TfjsNodeRequiredError } from './hooks/errors';
