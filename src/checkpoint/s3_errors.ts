import { CheckpointError, ResumableError } from '../errors';

/** The S3 endpoint could not be reached (connection refused, reset, timed out, DNS failure), even after retries. */
export class S3EndpointUnreachableError extends CheckpointError {}

/** S3 rejected the credentials or denied access (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied, 403). */
export class S3AccessDeniedError extends CheckpointError {}

/**
 * No credentials were found for an `s3://` model directory (none in the environment, the shared config
 * files or the instance metadata). A kind of {@link S3AccessDeniedError}, so code catching that catches this too.
 */
export class S3CredentialsMissingError extends S3AccessDeniedError {}

/** The bucket of an `s3://` model directory does not exist. */
export class S3BucketNotFoundError extends CheckpointError {}

/** S3 kept answering "slow down" (503 SlowDown, 429) or a 5xx after every retry. */
export class S3ThrottledError extends CheckpointError {}

/** What kind of failure an error from the AWS SDK (or the HTTP layer under it) is. */
export type S3FailureKind =
  | 'network'
  | 'throttled'
  | 'server'
  | 'access-denied'
  | 'no-credentials'
  | 'no-such-bucket'
  | 'not-found'
  | 'precondition-failed'
  | 'not-implemented'
  | 'other';

/** The fields of SDK and Node errors we look at; everything is optional because anything can be thrown. */
interface ErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'UND_ERR_SOCKET',
]);
/** Name of the error `S3CheckpointStorage` raises for a response body cut short; retried like a reset. */
export const INCOMPLETE_BODY = 'IncompleteBody';
const NETWORK_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', INCOMPLETE_BODY]);
const THROTTLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestLimitExceeded',
]);
const ACCESS_NAMES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
]);

/** Classifies an error thrown by an S3 call; see `S3FailureKind`. */
export function classifyS3Error(error: unknown): S3FailureKind {
  // Our own errors were classified already when they were made; their `cause` must not be re-read.
  if (error instanceof ResumableError) return 'other';
  const shape = (typeof error === 'object' && error !== null ? error : {}) as ErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : '';
  const code = typeof shape.Code === 'string' ? shape.Code : name;
  const status = typeof shape.$metadata?.httpStatusCode === 'number' ? shape.$metadata.httpStatusCode : undefined;
  if (isNetworkError(shape, 0)) return 'network';
  if (THROTTLE_NAMES.has(code) || status === 429 || status === 503) return 'throttled';
  // The SDK's credential chain found nothing: no request was sent, so nothing was denied yet.
  if (name === 'CredentialsProviderError') return 'no-credentials';
  if (ACCESS_NAMES.has(code) || status === 403) return 'access-denied';
  if (code === 'NoSuchBucket') return 'no-such-bucket';
  if (code === 'NoSuchKey' || code === 'NotFound' || status === 404) return 'not-found';
  if (code === 'PreconditionFailed' || code === 'ConditionalRequestConflict' || status === 412) return 'precondition-failed';
  if (code === 'NotImplemented' || status === 501 || status === 405) return 'not-implemented';
  if (status !== undefined && status >= 500) return 'server';
  return 'other';
}

/** Whether a failed call may succeed when repeated unchanged. */
export function isRetryableS3Error(error: unknown): boolean {
  const kind = classifyS3Error(error);
  return kind === 'network' || kind === 'throttled' || kind === 'server';
}

function isNetworkError(shape: ErrorShape, depth: number): boolean {
  if (typeof shape.code === 'string' && NETWORK_CODES.has(shape.code)) return true;
  if (typeof shape.name === 'string' && NETWORK_NAMES.has(shape.name)) return true;
  // When the thrown value is not an `Error` of the SDK's own realm (jest sandboxes, vm contexts), the SDK
  // replaces it by "AWS SDK error wrapper for <original>", keeping only the text; read the code from it.
  const message = (shape as { message?: unknown }).message;
  if (typeof message === 'string' && message.startsWith('AWS SDK error wrapper for ')) {
    const words = message.match(/[A-Za-z_]+/g) ?? [];
    if (words.some((w) => NETWORK_CODES.has(w) || NETWORK_NAMES.has(w))) return true;
  }
  // Node wraps socket errors (undici, AggregateError of dual-stack connects) one or two levels deep.
  const cause = shape.cause;
  if (depth < 3 && typeof cause === 'object' && cause !== null) return isNetworkError(cause as ErrorShape, depth + 1);
  return false;
}

/** A short `Name: message (HTTP status)` of any thrown value, for error messages. */
export function describeThrown(error: unknown): string {
  // Duck-typed rather than `instanceof Error`: errors from another realm (Node core under jest) fail that check.
  if (typeof error !== 'object' || error === null) return String(error);
  const shape = error as ErrorShape & { message?: unknown };
  const rawName = typeof shape.name === 'string' ? shape.name : 'Error';
  // An SDK wrapper (see isNetworkError) keeps only "<name>: <message>" of the original; unwrap it.
  const rawText = typeof shape.message === 'string' ? shape.message : '';
  const text = rawText.replace(/^AWS SDK error wrapper for (Error: )?/, '');
  const codeInText = (text.match(/[A-Z_]{4,}/g) ?? []).find((w) => NETWORK_CODES.has(w));
  const name = rawName !== 'Error' ? rawName : typeof shape.code === 'string' ? shape.code : (codeInText ?? rawName);
  const message = text !== '' && text !== 'UnknownError' ? `: ${text}` : '';
  const status = shape.$metadata?.httpStatusCode;
  return `${name}${message}${typeof status === 'number' ? ` (HTTP ${status})` : ''}`;
}
