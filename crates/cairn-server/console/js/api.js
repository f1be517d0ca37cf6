// The one door to the server: every request of the console goes through `call`, which adds
// the bearer token (kept in this module's memory only, never in storage) and turns the
// server's common error body into an `ApiFailure`. Requests omit browser credentials: the
// server's 401 carries a `Basic` challenge, and a browser answering it with its own password
// prompt would hang the request; the console sends its credentials explicitly instead.

let token = null;
let onUnauthorized = () => {};

/** A failed request: HTTP status plus the server's `{code, message, details}`. */
export class ApiFailure extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details ?? null;
  }
}

/** Sets (or clears, with null) the token every later request carries. */
export function setToken(value) {
  token = value;
}

/** Whether a token is held. */
export function hasToken() {
  return token !== null;
}

/** Called on a 401 answer (an expired or revoked token): the app goes back to the login. */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/** Encodes one path segment (collection names are safe; document ids may not be). */
export function seg(text) {
  return encodeURIComponent(String(text));
}

/** The path segment of a document id: numbers bare, strings that look numeric quoted. */
export function idSegment(id) {
  if (typeof id === "number") return String(id);
  const text = String(id);
  return seg(/^-?[0-9]+$/.test(text) ? JSON.stringify(text) : text);
}

function headers(extra) {
  const all = { Accept: "application/json", ...extra };
  if (token) all.Authorization = `Bearer ${token}`;
  return all;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body?.error ?? {};
  return new ApiFailure(
    response.status,
    error.code ?? `http_${response.status}`,
    error.message ?? response.statusText,
    error.details,
  );
}

/**
 * Sends a request; `body` (an object) is sent as JSON. Resolves to the parsed JSON answer
 * (null for 204), rejects with an `ApiFailure`.
 */
export async function call(method, path, body, options = {}) {
  const init = { method, headers: headers(options.headers), signal: options.signal, credentials: "omit" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401 && token) onUnauthorized();
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") ?? "";
  return type.includes("json") ? response.json() : response.text();
}

/** Logs in with a user name and password: asks for a token with Basic credentials. */
export async function login(user, password) {
  const basic = btoa(unescape(encodeURIComponent(`${user}:${password}`)));
  const response = await fetch("/v1/auth/tokens", {
    method: "POST",
    headers: { Authorization: `Basic ${basic}`, Accept: "application/json" },
    credentials: "omit",
  });
  if (!response.ok) throw await failure(response);
  const issued = await response.json();
  token = issued.token;
  return issued;
}

/**
 * Reads a Server-Sent Events stream (with the token, which EventSource cannot send) and
 * calls `onEvent({event, id, data})` per event until `signal` aborts or the stream ends.
 */
export async function stream(path, onEvent, signal) {
  const response = await fetch(path, {
    headers: headers({ Accept: "text/event-stream" }), signal, credentials: "omit",
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = { event: "message", id: null, data: "" };
      for (const line of block.split("\n")) {
        const colon = line.indexOf(":");
        if (colon <= 0) continue;
        const field = line.slice(0, colon);
        const text = line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") event.data += (event.data ? "\n" : "") + text;
        else if (field === "event") event.event = text;
        else if (field === "id") event.id = text;
      }
      onEvent(event);
    }
  }
}
