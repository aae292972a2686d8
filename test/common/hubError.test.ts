import { describe, expect, it } from 'vitest';
import { HubErrorBody } from '../../common/hub.ts';
import { HubError } from '../../common/hubError.ts';
import { HubError as ServerHubError } from '../../server/errors.ts';

describe('HubError: one class for the hub and its client', () => {
  it('is the same class on the server side: what the hub throws is what the client catches', () => {
    const thrown = new ServerHubError(409, 'draft-taken-over', 'Dr B took it over.', { newOwner: 'Dr B' });
    expect(thrown).toBeInstanceOf(HubError);
    expect(ServerHubError).toBe(HubError);
    expect(thrown.name).toBe('HubError');
  });

  it('round-trips through the wire body: status, code, message and details survive', () => {
    const thrown = new HubError(409, 'draft-taken-over', 'Dr B took it over.', { newOwner: 'Dr B' });
    const body = JSON.stringify(thrown.toBody());
    expect(HubErrorBody.parse(JSON.parse(body))).toEqual({ error: { code: 'draft-taken-over', message: 'Dr B took it over.', details: { newOwner: 'Dr B' } } });
    const received = HubError.fromResponse(409, body);
    expect(received).toMatchObject({ status: 409, code: 'draft-taken-over', message: 'Dr B took it over.', details: { newOwner: 'Dr B' } });
    expect(new HubError(404, 'not-found', 'gone').toBody()).toEqual({ error: { code: 'not-found', message: 'gone' } });
  });

  it('keeps an answer that is not the hub\'s error body readable and bounded', () => {
    const page = `<html><body>Bad gateway${' '.repeat(10)}${'x'.repeat(1000)}</body></html>`;
    const e = HubError.fromResponse(502, page);
    expect(e.code).toBe('http-502');
    expect(e.message.startsWith('HTTP 502: <html><body>Bad gateway')).toBe(true);
    expect(e.message.length).toBeLessThanOrEqual('HTTP 502: '.length + 200);
    expect(HubError.fromResponse(500, '   ').message).toBe('HTTP 500');
    expect(HubError.fromResponse(400, '{"error":{"code":"x"}}').code).toBe('http-400');
  });

  it('says whether the same request may succeed later', () => {
    expect(new HubError(null, 'network', 'down').retryable).toBe(true);
    expect(new HubError(null, 'timeout', 'slow').retryable).toBe(true);
    expect(new HubError(503, 'internal', 'db').retryable).toBe(true);
    expect(new HubError(429, 'locked-out', 'wait').retryable).toBe(true);
    expect(new HubError(409, 'idempotency-key-in-flight', 'busy').retryable).toBe(true);
    expect(new HubError(409, 'original-not-synced', 'later').retryable).toBe(true);
    expect(new HubError(409, 'report-conflict', 'never').retryable).toBe(false);
    expect(new HubError(401, 'unauthenticated', 'log in').retryable).toBe(false);
    expect(new HubError(422, 'hash-mismatch', 'altered').retryable).toBe(false);
  });
});
