// Calls a workstation handler as the bridge and the IPC layer do: the input parsed by the
// contract first, the output parsed by it too (common/contract.ts), so a test sees what the
// renderer would. Also the services a test starts, and a call that must be refused.
import path from 'node:path';
import { expect } from 'vitest';
import { contract, ContractError, type Handlers } from '../../common/contract.ts';
import { createServices, type Services, type ServicesOptions } from '../../main/services.ts';

export type HandlerOutput<C extends keyof Handlers> = ReturnType<Handlers[C]> extends Promise<infer T> ? T : ReturnType<Handlers[C]>;

export async function callHandler<C extends keyof Handlers>(services: Services, channel: C, input: unknown): Promise<HandlerOutput<C>> {
  const c = contract[channel];
  const out = await (services.handlers[channel] as (i: unknown) => unknown)(c.input.parse(input));
  return c.output.parse(out) as never;
}

/** The bundled sample study (resources/samples/ct-head), for services that index it at start. */
export const SAMPLE_DIR = path.resolve(import.meta.dirname, '../../resources/samples/ct-head');

/** The workstation's services for a test: browser mode, no file server; `extra` adds a hub, the sample… */
export function testServices(dataDir: string, extra: Partial<ServicesOptions> = {}): Promise<Services> {
  return createServices({ dataDir, mode: 'browser', version: 'test', fileAccess: () => ({ fileBaseUrl: 'http://127.0.0.1/files/', fileAuthHeader: null }), ...extra });
}

/** The refusal of a call that must be refused (a ContractError); fails the test if it was accepted. */
export async function refusedBy(services: Services, channel: keyof Handlers, input: unknown): Promise<ContractError> {
  try {
    await callHandler(services, channel, input);
  } catch (err) {
    expect(err).toBeInstanceOf(ContractError);
    return err as ContractError;
  }
  throw new Error(`${channel} was not refused`);
}
