// HeraldError: every failed call, with the gRPC code, Herald's message, and
// the request field Herald named (its messages start "field: ...").
import * as grpc from '@grpc/grpc-js';
import {retryDelayFromStatusDetails} from './proto';

// Codes whose messages Herald starts with the offending field.
const kFieldCodes = new Set<number>([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.NOT_FOUND,
  grpc.status.OUT_OF_RANGE,
  grpc.status.ALREADY_EXISTS,
]);

// "recipients[1].user.properties_json: ..." -> "recipients[1].user.properties_json";
// map keys in a path may hold '-' ("preferences_json.workflows.new-comment").
const kFieldPrefix = /^([a-z_][\w-]*(?:\[\d+\])?(?:\.[\w-]+(?:\[\d+\])?)*): /;

export class HeraldError extends Error {
  // The gRPC status code (grpc.status.*), e.g. 3 for INVALID_ARGUMENT.
  readonly code: number;
  // Its name: "INVALID_ARGUMENT", "UNAUTHENTICATED", ...
  readonly codeName: string;
  // The request field the error is about, as Herald names it (the proto's
  // field, e.g. "data_json" or "recipients[1].user.id"); undefined when
  // the message names none.
  readonly field: string | undefined;
  // How long Herald asked the caller to wait (google.rpc.RetryInfo, sent
  // when a rate limit refused the call); undefined when it did not say.
  readonly retryDelayMs: number | undefined;
  // The method called, e.g. "Trigger", and how many attempts were made.
  readonly method: string;
  readonly attempts: number;
  // The trailing metadata of the failed call, when the server answered.
  readonly metadata: grpc.Metadata | undefined;

  constructor(init: {
    code: number;
    message: string;
    method: string;
    attempts?: number;
    field?: string;
    retryDelayMs?: number;
    metadata?: grpc.Metadata;
  }) {
    super(init.message);
    this.name = 'HeraldError';
    this.code = init.code;
    this.codeName = grpc.status[init.code] ?? `CODE_${init.code}`;
    this.method = init.method;
    this.attempts = init.attempts ?? 1;
    this.field = init.field ?? fieldOf(init.code, init.message);
    this.retryDelayMs = init.retryDelayMs;
    this.metadata = init.metadata;
  }

  // The same error after `attempts` attempts.
  withAttempts(attempts: number): HeraldError {
    return new HeraldError({
      code: this.code,
      message: this.message,
      method: this.method,
      attempts,
      field: this.field,
      retryDelayMs: this.retryDelayMs,
      metadata: this.metadata,
    });
  }
}

function fieldOf(code: number, message: string): string | undefined {
  if (!kFieldCodes.has(code)) return undefined;
  return kFieldPrefix.exec(message)?.[1];
}

// A grpc-js failure (or anything thrown while calling) as a HeraldError.
export function toHeraldError(error: unknown, method: string): HeraldError {
  if (error instanceof HeraldError) return error;
  const service = error as Partial<grpc.ServiceError> | undefined;
  if (service !== undefined && service !== null && typeof service.code === 'number') {
    let retryDelayMs: number | undefined;
    const details = service.metadata?.get('grpc-status-details-bin') ?? [];
    for (const value of details) {
      if (typeof value === 'string') continue;
      retryDelayMs = retryDelayFromStatusDetails(value);
      if (retryDelayMs !== undefined) break;
    }
    return new HeraldError({
      code: service.code,
      // `details` is the server's message; `message` has "3 INVALID_ARGUMENT: " before it.
      message: service.details ?? service.message ?? '',
      method,
      retryDelayMs,
      metadata: service.metadata,
    });
  }
  return new HeraldError({
    code: grpc.status.UNKNOWN,
    message: error instanceof Error ? error.message : String(error),
    method,
  });
}
