// The hub's JSON API, same origin, authenticated by the session cookie.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The hub did not answer at all (it is down, or the network is). */
export class Unreachable extends Error {}

const hooks = { unauthorized: () => {}, unreachable: () => {} };

/** What to do when any call answers 401 (show the login) or gets no answer (the banner). */
export function setHooks({ unauthorized, unreachable }) {
  hooks.unauthorized = unauthorized;
  hooks.unreachable = unreachable;
}

/** A path with each dynamic part encoded: path("integrations", id, "status"). */
export function path(...parts) {
  return "/" + parts.map((part) => encodeURIComponent(part)).join("/");
}

/** The answer's JSON; throws ApiError ({"error": {"code", "message"}}) or Unreachable.
 * A 401 shows the login, unless `login` is false (the login's own call). */
export async function api(url, { method = "GET", body, login = true } = {}) {
  const init = {
    method,
    headers: { Accept: "application/json" },
    credentials: "same-origin",
    cache: "no-store",
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  let text;
  try {
    response = await fetch(url, init);
    text = await response.text();
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    hooks.unreachable();
    throw new Unreachable("the hub did not answer");
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error =
      data && data.error
        ? data.error
        : { code: `http_${response.status}`, message: text.slice(0, 300) || response.statusText };
    if (response.status === 401 && login) hooks.unauthorized(String(error.message));
    throw new ApiError(response.status, String(error.code), String(error.message));
  }
  return data;
}

/** A message for the person, from any error a call threw. */
export function describe(error) {
  if (error instanceof ApiError) return `${error.message} (${error.status} ${error.code})`;
  if (error instanceof Unreachable) return "The hub did not answer.";
  return String(error && error.message ? error.message : error);
}
