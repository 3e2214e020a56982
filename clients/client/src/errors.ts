// Errors of the gateway's contract (gateway/HTTP_API.md): every error body is
// {"error": {"code", "message", "field"}}; HeraldError carries those plus the
// HTTP status, so callers can branch on `code` and show `field`.

export type HeraldErrorCode =
  | "invalid_argument"
  | "unauthenticated"
  | "permission_denied"
  | "not_found"
  | "rate_limited"
  | "unavailable"
  | "internal"
  // Not from the gateway: the request never got an answer (offline, DNS,
  // CORS refusal), or the answer was not the contract's JSON.
  | "network"
  | "bad_response";

const CODE_BY_STATUS: Record<number, HeraldErrorCode> = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "not_found",
  429: "rate_limited",
  500: "internal",
  503: "unavailable",
};

export class HeraldError extends Error {
  override readonly name = "HeraldError";
  readonly code: HeraldErrorCode | string;
  /** HTTP status; 0 when there was no response. */
  readonly status: number;
  /** The request field at fault, when the gateway named one. */
  readonly field: string | undefined;
  /** From `Retry-After` on 429 answers. */
  readonly retryAfterMs: number | undefined;

  constructor(init: {
    code: HeraldErrorCode | string;
    message: string;
    status: number;
    field?: string | undefined;
    retryAfterMs?: number | undefined;
    cause?: unknown;
  }) {
    super(init.message);
    this.code = init.code;
    this.status = init.status;
    this.field = init.field || undefined;
    this.retryAfterMs = init.retryAfterMs;
    if (init.cause !== undefined) (this as { cause?: unknown }).cause = init.cause;
  }

  /** 401/403: retrying with the same token cannot succeed. */
  get isAuthError(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

function retryAfterMs(response: Response): number | undefined {
  const header = response.headers.get("Retry-After");
  if (!header) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** Builds the error of a non-2xx response from its contract body. */
export async function errorFromResponse(response: Response): Promise<HeraldError> {
  const fallback = CODE_BY_STATUS[response.status] ?? (response.status >= 500 ? "internal" : "bad_response");
  let code: string = fallback;
  let message = `HTTP ${response.status}`;
  let field: string | undefined;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown; field?: unknown } };
    if (body && typeof body.error === "object" && body.error) {
      if (typeof body.error.code === "string" && body.error.code) code = body.error.code;
      if (typeof body.error.message === "string" && body.error.message) message = body.error.message;
      if (typeof body.error.field === "string") field = body.error.field;
    }
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  return new HeraldError({ code, message, field, status: response.status, retryAfterMs: retryAfterMs(response) });
}

export function networkError(cause: unknown): HeraldError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new HeraldError({ code: "network", message: `request failed: ${message}`, status: 0, cause });
}

export function isAbortError(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { name?: unknown }).name === "AbortError";
}
