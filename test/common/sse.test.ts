import { describe, expect, it } from 'vitest';
import { formatSseComment, formatSseEvent, SseParser } from '../../common/sse.ts';

/** Feeds the text one character at a time: every split a network can make. */
function byChar(text: string): ReturnType<SseParser['push']> {
  const p = new SseParser();
  return [...text].flatMap((c) => p.push(c));
}

describe('SseParser', () => {
  it('parses events split across chunks, CRLF, comments, multi-line data', () => {
    const p = new SseParser();
    expect(p.push(': ping\n\nevent: hel')).toEqual([]);
    expect(p.push('lo\r\ndata: {"a":1}\r')).toEqual([]);
    expect(p.push('\n\r\nid: 7\ndata: x\ndata: y\n\n')).toEqual([
      { event: 'hello', data: '{"a":1}', id: null },
      { event: 'message', data: 'x\ny', id: '7' },
    ]);
  });

  it('gives the same events whatever the chunking, with LF, CRLF or lone CR line ends', () => {
    const lf = 'event: hello\ndata: {"head":3}\n\nid: 4\ndata: one\ndata: two\n\n: keep-alive\n\ndata: three\n\n';
    const expected = [
      { event: 'hello', data: '{"head":3}', id: null },
      { event: 'message', data: 'one\ntwo', id: '4' },
      { event: 'message', data: 'three', id: '4' },
    ];
    for (const text of [lf, lf.replaceAll('\n', '\r\n'), lf.replaceAll('\n', '\r')]) {
      expect(new SseParser().push(text)).toEqual(expected);
      expect(byChar(text)).toEqual(expected);
    }
  });

  it('reads a CRLF split across chunks as one line end, not as an empty line', () => {
    const p = new SseParser();
    expect(p.push('data: a\r')).toEqual([]);
    expect(p.push('\ndata: b\r\n')).toEqual([]);
    expect(p.push('\r')).toEqual([{ event: 'message', data: 'a\nb', id: null }]);
    expect(p.push('\ndata: c\r')).toEqual([]);
    expect(p.push('\r')).toEqual([{ event: 'message', data: 'c', id: null }]);
  });

  it('keeps the last event ID across events, ignores an id with NUL, and reads retry only when it is digits', () => {
    const p = new SseParser();
    expect(p.push('id: 10\nretry: 2500\ndata: a\n\n')).toEqual([{ event: 'message', data: 'a', id: '10' }]);
    expect(p.lastEventId).toBe('10');
    expect(p.retryMs).toBe(2500);
    expect(p.push('id: 1\u00001\nretry: soon\ndata: b\n\n')).toEqual([{ event: 'message', data: 'b', id: '10' }]);
    expect(p.retryMs).toBe(2500);
    // An id line without data still sets the last event ID (nothing is dispatched).
    expect(p.push('id: 12\n\n')).toEqual([]);
    expect(p.lastEventId).toBe('12');
    // An empty id resets it.
    expect(p.push('id\ndata: c\n\n')).toEqual([{ event: 'message', data: 'c', id: '' }]);
  });

  it('follows the field rules: one optional space after the colon, no colon means an empty value, unknown fields ignored', () => {
    const p = new SseParser();
    expect(p.push('data:no space\ndata:  two spaces\ndata\nfoo: bar\n\n')).toEqual([{ event: 'message', data: 'no space\n two spaces\n', id: null }]);
    expect(p.push('data:\n\n')).toEqual([{ event: 'message', data: '', id: null }]);
    // The event name applies to one event only.
    expect(p.push('event: custom\ndata: 1\n\ndata: 2\n\n')).toEqual([
      { event: 'custom', data: '1', id: null },
      { event: 'message', data: '2', id: null },
    ]);
  });

  it('does not dispatch an event whose blank line has not arrived, nor one without data', () => {
    const p = new SseParser();
    expect(p.push('event: hello\n\n')).toEqual([]);
    expect(p.push('data: unfinished\n')).toEqual([]);
  });

  it('drops one byte-order mark at the start of the stream only', () => {
    const p = new SseParser();
    expect(p.push('\uFEFFdata: a\n\n')).toEqual([{ event: 'message', data: 'a', id: null }]);
    expect(p.push('\uFEFFdata: b\n\n')).toEqual([]);
  });
});

describe('formatSseEvent', () => {
  it('writes what the parser reads back, multi-line data included', () => {
    const text =
      formatSseEvent({ event: 'hello', data: JSON.stringify({ head: 3 }) }) +
      formatSseComment('ping') +
      formatSseEvent({ id: 4, retry: 1000, data: 'line one\nline two\r\nline three' });
    expect(text).toBe('event: hello\ndata: {"head":3}\n\n: ping\n\nid: 4\nretry: 1000\ndata: line one\ndata: line two\ndata: line three\n\n');
    const p = new SseParser();
    expect(p.push(text)).toEqual([
      { event: 'hello', data: '{"head":3}', id: null },
      { event: 'message', data: 'line one\nline two\nline three', id: '4' },
    ]);
    expect(p.retryMs).toBe(1000);
  });

  it('refuses fields that would break the stream', () => {
    expect(() => formatSseEvent({ event: 'a\nb', data: '' })).toThrow(/line break/);
    expect(() => formatSseEvent({ id: '1\r2', data: '' })).toThrow(/line break/);
    expect(() => formatSseEvent({ id: 'a\u0000', data: '' })).toThrow(/NUL/);
    expect(() => formatSseEvent({ retry: -1, data: '' })).toThrow(/whole number/);
    expect(formatSseComment('a\nb')).toBe(': a b\n\n');
    expect(formatSseComment()).toBe(':\n\n');
  });
});
