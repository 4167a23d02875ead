// The server's HTTP API: bearer-token auth kept in session storage, JSON calls, uploads, pictures as blobs and
// the event stream of a generation read with fetch(), since an EventSource cannot send the Authorization header.

const TOKEN_KEY = 'montage.token';

/** An answer other than 2xx: its status and the server's {field, message} errors. */
export class ApiError extends Error {
  constructor(status, errors) {
    super(errors.map((e) => (e.field ? `${e.field}: ` : '') + e.message).join('; ') || `HTTP ${status}`);
    this.status = status;
    this.errors = errors;
  }
}

export class Api {
  /**
   * @param askToken called with a problem text when the server refuses the token (or has none); resolves to the
   *                 token the user gives
   */
  constructor(askToken) {
    this.askToken = askToken;
  }

  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  set token(value) {
    if (value) {
      sessionStorage.setItem(TOKEN_KEY, value);
    } else {
      sessionStorage.removeItem(TOKEN_KEY);
    }
  }

  /** fetch() with the token; a 401 or 403 asks for a token once per refusal and tries again. */
  async fetch(path, init = {}) {
    for (;;) {
      const headers = new Headers(init.headers);
      if (this.token) {
        headers.set('Authorization', `Bearer ${this.token}`);
      }
      const response = await fetch(path, { ...init, headers });
      if (response.status !== 401 && response.status !== 403) {
        return response;
      }
      const problem = response.status === 401 ? 'This server needs a token.' : 'The server refused this token.';
      this.token = await this.askToken(problem);
    }
  }

  async json(method, path, body) {
    const init = { method };
    if (body !== undefined) {
      init.headers = { 'Content-Type': 'application/json' };
      init.body = JSON.stringify(body);
    }
    return read(await this.fetch(path, init));
  }

  /** Posts a picture; resolves to its upload id. */
  async upload(file) {
    const form = new FormData();
    form.append('image', file, file.name || 'picture.png');
    return (await read(await this.fetch('/v1/uploads', { method: 'POST', body: form }))).id;
  }

  /** A picture of the API as a blob (an <img> could not send the token). */
  async blob(path, init = {}) {
    const response = await this.fetch(path, init);
    if (!response.ok) {
      await read(response);
    }
    return response.blob();
  }

  /**
   * Follows the server-sent events of a generation, calling onEvent(type, data) for each, until a terminal event
   * or the signal aborts.
   */
  async events(id, onEvent, signal) {
    const response = await this.fetch(`/v1/generations/${encodeURIComponent(id)}/events`, {
      headers: { Accept: 'text/event-stream' }, signal,
    });
    if (!response.ok) {
      await read(response);
    }
    const parser = new SseParser((event) => onEvent(event.type, JSON.parse(event.data)));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      parser.push(value);
    }
  }
}

async function read(response) {
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, body?.errors ?? [{ message: text || response.statusText }]);
  }
  return body;
}

/**
 * The text/event-stream format (WHATWG HTML, "server-sent events"): lines of field: value, events ended by a blank
 * line, comments starting with a colon. Chunks may end anywhere, even inside a line.
 */
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = '';
    this.reset();
  }

  reset() {
    this.type = '';
    this.data = [];
    this.id = null;
  }

  push(chunk) {
    this.buffer += chunk;
    // a trailing \r may be the first half of \r\n: the next chunk tells
    const end = this.buffer.endsWith('\r') ? this.buffer.length - 1 : this.buffer.length;
    const lines = this.buffer.slice(0, end).split(/\r\n|\r|\n/);
    this.buffer = lines.pop() + this.buffer.slice(end);
    lines.forEach((line) => this.line(line));
  }

  line(line) {
    if (line === '') {
      if (this.data.length > 0) {
        this.onEvent({ type: this.type || 'message', data: this.data.join('\n'), id: this.id });
      }
      this.reset();
      return;
    }
    if (line.startsWith(':')) {
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    if (field === 'event') {
      this.type = value;
    } else if (field === 'data') {
      this.data.push(value);
    } else if (field === 'id') {
      this.id = value;
    }
  }
}
