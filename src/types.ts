/**
 * The option, result and record types of the public functions and classes, grouped so the top level stays a list
 * of things a user calls, implements or catches: `import type { types } from 'tfjs-resumable'`, then
 * `types.ResumableFitOptions`. Type-only: nothing here exists at run time.
 * @packageDocumentation
 */
export type { StorageStat, BatchSeal, PartReady, PublishCheck, FileContent, HeadedContent, ChecksummedBytes } from './checkpoint/storage';
export type { SnapshotBufferPool } from './checkpoint/snapshot_buffer_pool';
export type { FsLayer, FsStat } from './checkpoint/fs_layer';
export type { CheckpointMeta, CheckpointLimits } from './checkpoint/model_checkpoint';
export type { FitPosition } from './checkpoint/fit_position';
export type { S3Location } from './checkpoint/s3_url';
export type { BackendFingerprint } from './backend_fingerprint';
export type { LockHolder } from './errors';
export type { MaybePromise } from './hooks/session_run_hook';
export type { CheckpointableInput } from './hooks/training_session';
export type { HookCallbackOptions, DisposableHook, BatchLogs } from './hooks/hook_callback';
export type { TimerOptions } from './hooks/timer';
export type { StopAtStepOptions } from './hooks/stop_at_step_hook';
export type { StepCounterHookOptions } from './hooks/step_counter_hook';
export type { SummarySaverHookOptions } from './hooks/summary_saver_hook';
export type { LoggingTensorHookOptions } from './hooks/logging_tensor_hook';
export type { NanTensorHookOptions } from './hooks/nan_tensor_hook';
export type { PreemptionHookOptions, SignalSource } from './hooks/preemption_hook';
export type { StatefulCallback } from './hooks/callback_state';
export type { InputCheckpointEstimator, CheckpointInputPipelineHookOptions } from './hooks/checkpoint_input_pipeline_hook';
export type { CheckpointSaverHookOptions } from './hooks/checkpoint_saver_hook';
export type { CheckpointWriterOptions, SaveResult } from './checkpoint/checkpoint_writer';
export type { WriteJob, ModelWriteJob, BlobWriteJob } from './checkpoint/write_job';
export type { WorkerStorageDescription } from './checkpoint/storage';
export type { ModelSnapshot, OptimizerSnapshot, PendingSnapshot } from './checkpoint/model_snapshot';
export type { SnapshotFill } from './checkpoint/snapshot_fill';
export type { TensorData, TensorSpec, CheckpointDtype } from './checkpoint/tensor_data';
export type { RunConfigOptions } from './estimator/run_config';
export type { DeterminismCheckOptions } from './estimator/determinism_check';
export type { BackendChoice, BackendName, UseFastestBackendOptions } from './backend';
export type { Saveable } from './data/saveable';
export type { EstimatorOptions, TrainOptions, EvaluateOptions, InputFn, EstimatorInput } from './estimator/estimator';
export type { ResumableFitOptions, ResumableFitResult } from './estimator/resumable_fit';
export type { LocalCheckpointStorageOptions } from './checkpoint/local_storage';
export type { LockWaitOptions, HeldLock } from './checkpoint/lock_wait';
export type { CheckpointLogger } from './checkpoint/logger';
export type {
  RestoredCheckpoint,
  RestoreOptions,
  SaveCheckpointOptions,
  CheckpointInfo,
  ModelDirOrStorage,
} from './checkpoint/checkpoint_manager';
export type { OpenStorageOptions } from './checkpoint/open_storage';
export type { S3CheckpointStorageOptions, S3Credentials } from './checkpoint/s3_storage';
