// The ingest service's HTTP API, with the bearer token kept in this tab's sessionStorage.
// The API itself stays bearer-only: no cookies, nothing the browser sends by itself.

const KEY = 'cra.dashboard.token';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

/** An error the pages can show: title, message, HTTP status, stable code. */
export class ApiError extends Error {
  constructor(status, code, title, message) {
    super(message);
    this.status = status;
    this.code = code;
    this.title = title;
  }
}

function explain(status, body) {
  const msg = body && body.error ? body.error.message : '';
  const code = body && body.error ? body.error.code : `http_${status}`;
  if (status === 401) return new ApiError(401, code, 'The token was not accepted', msg || 'Enter a valid token.');
  if (status === 403) return new ApiError(403, code, 'This token lacks the rights for this page',
    `${msg || 'forbidden'}. The dashboard needs a token with the read right.`);
  if (status === 404) return new ApiError(404, code, 'Not found', msg || 'No such trace for this token\'s tenant.');
  if (status === 503) return new ApiError(503, code, 'The ingest service is busy', `${msg || 'busy'}; try again in a moment.`);
  if (status === 400) return new ApiError(400, code, 'The request was refused', msg);
  return new ApiError(status, code, `The ingest service answered ${status}`, msg);
}

const listeners = [];
/** Called with every ApiError of status 401 (the app shows the token form). */
export function onUnauthorized(fn) { listeners.push(fn); }

export async function request(method, path, { query, body, raw, tokenOverride } = {}) {
  const t = tokenOverride || token.get();
  const url = new URL(path, document.baseURI);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  const headers = { Accept: raw ? 'application/x-ndjson' : 'application/json' };
  if (t) headers.Authorization = `Bearer ${t}`;
  let init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, 'unreachable', 'The ingest service cannot be reached',
      `No answer from ${url.origin} (${e.message}). Is cra serve running, and is this the right address?`);
  }
  if (!res.ok) {
    let doc = null;
    try { doc = await res.json(); } catch (_) { /* not JSON */ }
    const err = explain(res.status, doc);
    if (res.status === 401 && !tokenOverride) listeners.forEach((fn) => fn(err));
    throw err;
  }
  if (raw) return res.blob();
  return res.json();
}

export const get = (path, query) => request('GET', path, { query });
export const post = (path, body, query) => request('POST', path, { body, query });
