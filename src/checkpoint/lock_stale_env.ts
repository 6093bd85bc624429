import { InvalidArgumentError } from '../errors';

/**
 * Environment variable giving the default stale time of the modelDir writer lock, in ms, for every
 * storage opened without a `lockStaleMs` option (local default 10 000, S3 default 60 000). A holder that
 * stops heartbeating (crashed on another host, or suspended) loses its lock that long after its last
 * heartbeat. Meant for tests and for deployments that must take over quickly; too small a value lets a
 * slow but live holder be taken over (it is then fenced: it writes nothing more).
 */
export const LOCK_STALE_MS_ENV = 'TFJS_RESUMABLE_LOCK_STALE_MS';

/** The stale time {@link LOCK_STALE_MS_ENV} sets, or `undefined` when it is unset or empty. */
export function lockStaleMsFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[LOCK_STALE_MS_ENV];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!(Number.isFinite(value) && value > 0)) {
    throw new InvalidArgumentError(`${LOCK_STALE_MS_ENV} must be a positive number of milliseconds, got ${JSON.stringify(raw)}.`);
  }
  return value;
}
