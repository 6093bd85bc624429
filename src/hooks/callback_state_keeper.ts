import { consoleLogger, type CheckpointLogger } from '../checkpoint/logger';
import { parseBoundedJson } from '../checkpoint/safe_json';
import type { JsonValue } from '../data/state';
import type { Saveable } from '../data/saveable';
import { type StatefulCallback, requireRecord, stateOf } from './callback_state';
import { SessionRunHook } from './session_run_hook';

/** Name of the extra blob that carries hook and callback states inside a model checkpoint. */
export const CALLBACK_STATE_SAVEABLE_NAME = 'callback_state';

/** Upper bound of the saved states: they are counters and a few numbers, never data. */
const MAX_STATE_BYTES = 1 << 20;

/** The stateful participants of one list, keyed `<position among the stateful>:<class name>`. */
type Entries = [key: string, state: StatefulCallback][];

/** The states read from a checkpoint, waiting for their participants to have started. */
interface PendingStates {
  hooks: Map<string, JsonValue> | undefined;
  callbacks: Map<string, JsonValue> | undefined;
}

/**
 * Carries the states of a run's stateful hooks and callbacks ({@link StatefulCallback}, tfjs's EarlyStopping)
 * through its model checkpoints: a {@link Saveable} for the checkpoint, and a hook that puts the states
 * back at the right moment. Put it first in the hook list: its `afterCreateSession` runs after every hook's
 * `begin` (which may reset) and before their own `afterCreateSession`. Callback states are put back by
 * {@link applyCallbackStates}, to be called after the callbacks' `onTrainBegin`.
 *
 * States are matched by position among the stateful participants and class name, so one class never
 * receives another's state; a saved state without its participant, or a participant without a saved
 * state (the list changed between runs), is reported to the logger and that participant starts afresh.
 */
export class CallbackStateKeeper extends SessionRunHook implements Saveable {
  /** The checkpoint extra's name ({@link CALLBACK_STATE_SAVEABLE_NAME}). */
  readonly name = CALLBACK_STATE_SAVEABLE_NAME;
  private readonly hookEntries: Entries;
  private readonly callbackEntries: Entries;
  private pending: PendingStates = { hooks: undefined, callbacks: undefined };

  private readonly logger: CheckpointLogger;

  /**
   * @param participants the run's hooks and tfjs callbacks; the stateless ones are skipped.
   * @param logger where unmatched states are reported; default `console.warn`.
   */
  constructor(participants: { hooks?: readonly unknown[]; callbacks?: readonly unknown[] }, logger: CheckpointLogger = consoleLogger) {
    super();
    this.logger = logger;
    this.hookEntries = entriesOf(participants.hooks ?? []);
    this.callbackEntries = entriesOf(participants.callbacks ?? []);
  }

  /** Whether any participant has state to carry. */
  get isEmpty(): boolean {
    return this.hookEntries.length === 0 && this.callbackEntries.length === 0;
  }

  /** Every participant's state now, as the checkpoint extra's bytes. */
  save(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ hooks: snapshot(this.hookEntries), callbacks: snapshot(this.callbackEntries) }));
  }

  /**
   * Read states saved by {@link save}; they are applied once the participants have started.
   * @throws CallbackStateError when the bytes are not such states.
   */
  restore(bytes: Uint8Array): void {
    const value = requireRecord(parseBoundedJson(bytes, MAX_STATE_BYTES, CALLBACK_STATE_SAVEABLE_NAME), CALLBACK_STATE_SAVEABLE_NAME);
    this.pending = {
      hooks: this.matched(value.hooks, this.hookEntries, 'hooks'),
      callbacks: this.matched(value.callbacks, this.callbackEntries, 'callbacks'),
    };
  }

  private matched(saved: JsonValue | undefined, entries: Entries, section: string): Map<string, JsonValue> {
    const record = requireRecord(saved, `${CALLBACK_STATE_SAVEABLE_NAME}.${section}`);
    const ownKeys = new Set(entries.map(([key]) => key));
    const orphans = Object.keys(record).filter((key) => !ownKeys.has(key));
    const fresh = [...ownKeys].filter((key) => !(key in record));
    if (orphans.length > 0 || fresh.length > 0) {
      this.logger.warn(
        `The checkpoint holds states of the stateful ${section} [${Object.keys(record).join(', ') || 'none'}], this run has ` +
          `[${[...ownKeys].join(', ') || 'none'}]: ${fresh.length > 0 ? `[${fresh.join(', ')}] start afresh` : ''}` +
          `${fresh.length > 0 && orphans.length > 0 ? ', ' : ''}${orphans.length > 0 ? `[${orphans.join(', ')}] are dropped` : ''}. ` +
          `Pass the same stateful ${section}, in the same order, as the run that wrote the checkpoint to resume them all.`,
      );
    }
    return new Map(Object.entries(record).filter(([key]) => ownKeys.has(key)));
  }

  /** Keep the hooks' states of now for the next start (a run made of several `fit` calls, each restarting its hooks). */
  carryOverHookStates(): void {
    this.pending.hooks = new Map(this.hookEntries.map(([key, state]) => [key, state.saveState()]));
  }

  /** After every hook's `begin`: put the saved hook states back (once). */
  override afterCreateSession(): void {
    apply(this.hookEntries, this.pending.hooks);
    this.pending.hooks = undefined;
  }

  /** After the callbacks' `onTrainBegin`: put the saved callback states back (once). */
  applyCallbackStates(): void {
    apply(this.callbackEntries, this.pending.callbacks);
    this.pending.callbacks = undefined;
  }
}

function entriesOf(participants: readonly unknown[]): Entries {
  const entries: Entries = [];
  for (const participant of participants) {
    const state = stateOf(participant);
    if (state === undefined) continue;
    const className = (participant as object).constructor?.name ?? 'Object';
    entries.push([`${entries.length}:${className}`, state]);
  }
  return entries;
}

function snapshot(entries: Entries): { [key: string]: JsonValue } {
  return Object.fromEntries(entries.map(([key, state]) => [key, state.saveState()]));
}

function apply(entries: Entries, states: Map<string, JsonValue> | undefined): void {
  if (states === undefined) return;
  for (const [key, state] of entries) {
    const saved = states.get(key);
    if (saved !== undefined) state.restoreState(saved);
  }
}
