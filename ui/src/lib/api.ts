// The one door to the Rust side: typed commands from the generated bindings, unwrapped into
// values or a thrown CommandError carrying the server's { code, message }.
import { commands, events, type ApiError, type CoreEvent, type VoiceEvent } from './bindings';

export { commands };

export class CommandError extends Error {
  readonly code: ApiError['code'];
  constructor(e: ApiError) {
    super(e.message);
    this.code = e.code;
  }
}

type Result<T> = { status: 'ok'; data: T } | { status: 'error'; error: ApiError };

export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  const r = await call;
  if (r.status === 'ok') return r.data;
  throw new CommandError(r.error);
}

/** A readable message for anything thrown by a command. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Calls `handler` for every event the core reports; returns the unsubscribe function. */
export function onCoreEvent(handler: (e: CoreEvent) => void): Promise<() => void> {
  return events.natterEvent.listen((e) => handler(e.payload));
}

/** Calls `handler` for every event of the voice recorder; returns the unsubscribe function. */
export function onVoiceEvent(handler: (e: VoiceEvent) => void): Promise<() => void> {
  return events.voiceEvent.listen((e) => handler(e.payload));
}
