// Server-sent events (text/event-stream, WHATWG HTML §9.2): the one writer and the one
// incremental parser, for every stream in the project (the hub's /api/events, browser mode's
// /events, the test hubs). Text in, text out: callers decode bytes (TextDecoder with
// { stream: true }) so a character split across chunks is never mangled.

/** One dispatched event. `event` is 'message' unless the stream named it; `id` is the last event ID so far. */
export interface SseMessage {
  event: string;
  data: string;
  id: string | null;
}

/** What a writer may send in one event. `data` may hold newlines: each line becomes its own `data:` line. */
export interface SseEventInit {
  data: string;
  event?: string;
  id?: string | number;
  /** Reconnection time the client should use, in ms. */
  retry?: number;
}

const LINE_BREAK = /\r\n|\r|\n/;

function singleLine(field: string, value: string): string {
  if (LINE_BREAK.test(value)) throw new Error(`An event-stream ${field} cannot contain a line break.`);
  return value;
}

/** One event as stream text, ending with the blank line that dispatches it. */
export function formatSseEvent(init: SseEventInit): string {
  let out = '';
  if (init.event !== undefined) out += `event: ${singleLine('event name', init.event)}\n`;
  if (init.id !== undefined) {
    const id = singleLine('id', String(init.id));
    if (id.includes('\0')) throw new Error('An event-stream id cannot contain NUL.');
    out += `id: ${id}\n`;
  }
  if (init.retry !== undefined) {
    if (!Number.isInteger(init.retry) || init.retry < 0) throw new Error(`An event-stream retry must be a whole number of ms, not ${init.retry}.`);
    out += `retry: ${init.retry}\n`;
  }
  for (const line of init.data.split(LINE_BREAK)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** A comment line (keeps the connection alive; parsers ignore it). */
export function formatSseComment(text = ''): string {
  return `:${text === '' ? '' : ` ${text.split(LINE_BREAK).join(' ')}`}\n\n`;
}

/** Incremental parser: push text as it arrives, get the events it completes. */
export class SseParser {
  private buffer = '';
  private started = false;
  private afterCr = false;
  private data: string[] = [];
  private event = '';
  private lastId: string | null = null;
  private retry: number | null = null;

  /** The last event ID the stream set (sent back as Last-Event-ID on reconnect), or null. */
  get lastEventId(): string | null {
    return this.lastId;
  }

  /** The reconnection time the stream asked for (ms), or null if it did not. */
  get retryMs(): number | null {
    return this.retry;
  }

  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    if (this.afterCr && this.buffer !== '') {
      // The previous chunk ended with CR: a LF now is the second half of that CRLF.
      if (this.buffer.startsWith('\n')) this.buffer = this.buffer.slice(1);
      this.afterCr = false;
    }
    if (!this.started && this.buffer !== '') {
      this.started = true;
      if (this.buffer.startsWith('\uFEFF')) this.buffer = this.buffer.slice(1);
    }
    const out: SseMessage[] = [];
    for (;;) {
      const m = LINE_BREAK.exec(this.buffer);
      if (!m) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (m[0] === '\r' && this.buffer === '') this.afterCr = true;
      const message = this.line(line);
      if (message) out.push(message);
    }
    return out;
  }

  private line(line: string): SseMessage | null {
    if (line === '') {
      const message = this.data.length > 0 ? { event: this.event || 'message', data: this.data.join('\n'), id: this.lastId } : null;
      this.data = [];
      this.event = '';
      return message;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    return null;
  }
}
