import type { CheckpointInfo } from '../checkpoint/checkpoint_manager';
import { MODEL_CHECKPOINT_PREFIX, MODEL_INDEX_NAME } from '../checkpoint/model_checkpoint';
import type { CheckpointStorage } from '../checkpoint/storage';
import { INPUT_PIPELINE_SAVEABLE_NAME } from '../data/saveable';
import { FIT_POSITION_SAVEABLE_NAME } from '../checkpoint/fit_position';
import { ExitCode, ExitCodeValue, JSON_SCHEMA_VERSION } from './cli_io';
import { formatBytes, renderTable } from './format';
import type { InputSeriesInfo } from './input_checkpoints';
import { ModelDirReport, readModelDirReport } from './model_dir_report';
import { checkRecordedFiles } from './recorded_files';

/** A model checkpoint as `list` shows it: `CheckpointInfo` plus the extra blobs it carries. */
export interface ListedCheckpoint extends CheckpointInfo {
  /** Extra blobs inside the checkpoint: `input_pipeline` and `fit_position` mean the data position rides in it. */
  extras: string[];
}

/**
 * `list --json` output: `{schemaVersion, location, modelIndex, modelCheckpoints, inputSeries}` where
 * `modelCheckpoints` are `ListedCheckpoint`s (step, path, epoch, sizeBytes, createdAt, inIndex, latest, status,
 * reason?, extras) and `inputSeries` are `InputSeriesInfo`s (indexName, prefix, indexStatus, indexReason?,
 * checkpoints: step, path, sizeBytes, modifiedAt, inIndex, latest, status, reason?).
 */
export interface ListJson extends ModelDirReport {
  schemaVersion: number;
  modelCheckpoints: ListedCheckpoint[];
}

/** What `list` prints and its exit code: 1 (`corrupt`) when any checkpoint or index it shows is damaged. */
export interface ListResult {
  text: string;
  code: ExitCodeValue;
}

/**
 * Runs `list`: the table (or with `json` the JSON document) and the exit code. Listing shows corruption rather
 * than stopping at it; file sizes are compared with those state.json records, checksums are left to `verify`.
 */
export async function runList(storage: CheckpointStorage, json: boolean): Promise<ListResult> {
  const base = await readModelDirReport(storage, false);
  const modelCheckpoints: ListedCheckpoint[] = [];
  for (const info of base.modelCheckpoints) {
    const recorded = info.status === 'ok' ? await checkRecordedFiles(storage, info) : { extras: [] };
    const listed: ListedCheckpoint = { ...info, extras: recorded.extras };
    if (recorded.problem !== undefined) Object.assign(listed, { status: 'corrupt', reason: recorded.problem });
    modelCheckpoints.push(listed);
  }
  const report: ListJson = { schemaVersion: JSON_SCHEMA_VERSION, ...base, modelCheckpoints };
  const damaged =
    report.modelIndex.status === 'corrupt' ||
    modelCheckpoints.some((c) => c.status === 'corrupt') ||
    report.inputSeries.some((s) => s.indexStatus === 'corrupt' || s.checkpoints.some((c) => c.status === 'corrupt'));
  const code = damaged ? ExitCode.corrupt : ExitCode.ok;
  if (json) return { text: JSON.stringify(report, null, 2) + '\n', code };
  return { text: renderList(report).join('\n') + '\n', code };
}

/** `latest` (the index's newest, what restore tries first), `indexed`, or `orphaned` (unknown to the index). */
function indexColumn(c: { latest: boolean; inIndex: boolean }): string {
  return c.latest ? 'latest' : c.inIndex ? 'indexed' : 'orphaned';
}

function problems(items: Array<{ path: string; reason?: string }>): string[] {
  return items.filter((i) => i.reason !== undefined).map((i) => `  ${i.path}: ${i.reason}`);
}

function renderModelSection(report: ModelDirReport): string[] {
  const lines = [`Model checkpoints (${MODEL_CHECKPOINT_PREFIX}-<step>) in ${report.location}`];
  if (report.modelIndex.status === 'corrupt') {
    lines.push(`  index "${MODEL_INDEX_NAME}" is unreadable, checkpoints were found by scanning: ${report.modelIndex.reason}`);
  } else if (report.modelIndex.status === 'missing' && report.modelCheckpoints.length > 0) {
    lines.push(`  no "${MODEL_INDEX_NAME}" index: checkpoints were found by scanning`);
  }
  if (report.modelCheckpoints.length === 0) return [...lines, '  none'];
  const rows = report.modelCheckpoints.map((c: CheckpointInfo) => [
    c.path,
    c.epoch === null ? '-' : String(c.epoch),
    formatBytes(c.sizeBytes),
    c.createdAt ?? '-',
    indexColumn(c),
    c.status === 'ok' ? 'ok' : 'CORRUPT',
  ]);
  lines.push(
    ...renderTable(['checkpoint', 'epoch', 'size', 'created', 'index', 'status'], rows, [
      'left', 'right', 'right', 'left', 'left', 'left',
    ]),
  );
  return [...lines, ...problems(report.modelCheckpoints.filter((c) => c.status === 'corrupt'))];
}

function renderInputSection(series: InputSeriesInfo): string[] {
  const lines = [`Input checkpoints (${series.prefix}-<step>, index ${series.indexName})`];
  if (series.indexStatus === 'corrupt') {
    lines.push(`  index "${series.indexName}" is unreadable, checkpoints were found by scanning: ${series.indexReason}`);
  } else if (series.indexStatus === 'missing') {
    lines.push(`  no "${series.indexName}" index: checkpoints were found by scanning`);
  }
  if (series.checkpoints.length === 0) return [...lines, '  none'];
  const rows = series.checkpoints.map((c) => [
    c.path,
    formatBytes(c.sizeBytes),
    c.modifiedAt ?? '-',
    indexColumn(c),
    c.status === 'ok' ? 'ok' : 'CORRUPT',
  ]);
  lines.push(
    ...renderTable(['checkpoint', 'size', 'modified', 'index', 'status'], rows, ['left', 'right', 'left', 'left', 'left']),
  );
  return [...lines, ...problems(series.checkpoints.filter((c) => c.status === 'corrupt'))];
}

/** Where the data position is when there is no input checkpoint series: inside the model checkpoints, or nowhere. */
function renderPositionInModel(checkpoints: readonly ListedCheckpoint[]): string {
  const carried = [INPUT_PIPELINE_SAVEABLE_NAME, FIT_POSITION_SAVEABLE_NAME].filter((name) => checkpoints.some((c) => c.extras.includes(name)));
  if (carried.length === 0) return 'Input checkpoints: none';
  return `Input position: inside the model checkpoints (extra ${carried.join(' and ')}), restored with the weights; see inspect`;
}

/** The human table of `list`: the model checkpoints, then one section per input checkpoint series. */
export function renderList(report: ListJson): string[] {
  const lines = renderModelSection(report);
  if (report.inputSeries.length === 0) return [...lines, '', renderPositionInModel(report.modelCheckpoints)];
  for (const series of report.inputSeries) lines.push('', ...renderInputSection(series));
  return lines;
}
