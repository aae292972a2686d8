// Calls a workstation handler as the bridge and the IPC layer do: the input parsed by the
// contract first, the output parsed by it too (common/contract.ts), so a test sees what the
// renderer would.
import { contract, type Handlers } from '../../common/contract.ts';
import type { Services } from '../../main/services.ts';

export type HandlerOutput<C extends keyof Handlers> = ReturnType<Handlers[C]> extends Promise<infer T> ? T : ReturnType<Handlers[C]>;

export async function callHandler<C extends keyof Handlers>(services: Services, channel: C, input: unknown): Promise<HandlerOutput<C>> {
  const c = contract[channel];
  const out = await (services.handlers[channel] as (i: unknown) => unknown)(c.input.parse(input));
  return c.output.parse(out) as never;
}
