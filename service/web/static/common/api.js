// The one way the pages call the service's public API, the same contract partners get.
//
// Every call names its operation by method and a literal path template, for example
//   api("POST", "/v1/events/{event_id}/checkins", {params: {event_id}, body})
// so that tests/web/test_ui_contract.py can read each template from the source and check it
// against openapi.yaml: a contract change that breaks a screen fails CI.
//
// The API key lives in sessionStorage (gone when the tab closes) and travels only in the
// Authorization header, never in a URL. Errors arrive as RFC 9457 problem documents and are
// thrown as ApiError with status, code, title and detail; a network failure or a timeout is an
// ApiError with status 0 and code "network_error".

const KEY_ITEM = "smk.api_key";
const TIMEOUT_MS = 8000;

export class ApiError extends Error {
  constructor({ status, code, title, detail, problem = null, sentKey = null }) {
    super(detail || title || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.problem = problem;
    this.sentKey = sentKey; // the key the request carried: a 401 is about that key only
  }

  /** True when the service could not be reached or is away: worth retrying later. */
  get unreachable() {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

export function getKey() {
  return sessionStorage.getItem(KEY_ITEM);
}

export function setKey(secret) {
  sessionStorage.setItem(KEY_ITEM, secret.trim());
}

export function clearKey() {
  sessionStorage.removeItem(KEY_ITEM);
}

/** A path template with its {placeholders} filled in, each value URL-encoded. */
export function expand(template, params = {}) {
  return template.replace(/\{(\w+)\}/g, (_, name) => {
    if (!(name in params)) throw new Error(`missing path parameter ${name} for ${template}`);
    return encodeURIComponent(String(params[name]));
  });
}

function queryString(query) {
  if (!query) return "";
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, String(item));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Random hex from the browser's CSPRNG; works on plain http too (randomUUID does not). */
export function randomHex(bytes = 16) {
  const data = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A nonce for a check-in or an Idempotency-Key: unique per action, kept with it for retries. */
export function newNonce(prefix = "web") {
  return `${prefix}-${Date.now().toString(36)}-${randomHex(8)}`;
}

/**
 * Call the API. method: "GET", "POST", ...; path: a literal template from openapi.yaml.
 * params fill the template; query becomes the query string; body is sent as JSON (or as is
 * when it is a Blob, FormData or string, with the caller's Content-Type); headers are added.
 * Resolves to {status, data, headers} (data is null for an empty answer); rejects with ApiError.
 */
export async function api(method, path, { params, body, headers, query, key, timeout } = {}) {
  const url = expand(path, params) + queryString(query);
  const sent = new Headers(headers || {});
  sent.set("Accept", sent.get("Accept") || "application/json");
  const secret = key ?? getKey();
  if (secret) sent.set("Authorization", `Bearer ${secret}`);
  let payload;
  if (body !== undefined) {
    const raw = body instanceof Blob || body instanceof FormData || typeof body === "string";
    payload = raw ? body : JSON.stringify(body);
    if (!raw) sent.set("Content-Type", "application/json");
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeout ?? TIMEOUT_MS);
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: sent,
      body: payload,
      signal: abort.signal,
      cache: "no-store",
      credentials: "omit",
    });
  } catch (error) {
    throw new ApiError({
      status: 0,
      code: "network_error",
      title: "Network error",
      detail: String(error && error.message ? error.message : error),
      sentKey: secret || null,
    });
  } finally {
    clearTimeout(timer);
  }
  const type = response.headers.get("Content-Type") || "";
  let data = null;
  if (response.status !== 204) {
    if (type.includes("json")) {
      data = await response.json().catch(() => null);
    } else {
      data = await response.text();
    }
  }
  if (!response.ok) {
    const problem = data && typeof data === "object" ? data : null;
    throw new ApiError({
      status: response.status,
      code: problem?.code || `http_${response.status}`,
      title: problem?.title || response.statusText,
      detail: problem?.detail || "",
      problem,
      sentKey: secret || null,
    });
  }
  return { status: response.status, data, headers: response.headers };
}

/** Every item of a paginated list ({items, next_cursor}), following cursors. */
export async function apiAll(path, { params, query, limit = 500 } = {}) {
  const items = [];
  let cursor;
  do {
    const { data } = await api("GET", path, { params, query: { ...query, limit, cursor } });
    items.push(...data.items);
    cursor = data.next_cursor;
  } while (cursor);
  return items;
}
