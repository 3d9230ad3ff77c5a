import type { ExperimentEvents, HookFn } from '@selfsup/core';

/** The experiment a hook receives. */
export type LoggingExperiment = Parameters<HookFn>[0];

type EventName = keyof ExperimentEvents;

/**
 * The observer listeners a callback added to one experiment's `events`, removed together.
 * A listener that throws (a full disk, a closed file) fails the step that emitted the
 * event — loudly, with the callback's name — rather than being dropped.
 */
export class EventSubscriptions {
  private readonly offs: Array<() => void> = [];

  constructor(private readonly callback: string) {}

  on<E extends EventName>(exp: LoggingExperiment, event: E, fn: (...args: ExperimentEvents[E]) => void): void {
    const name = this.callback;
    const listener = (...args: ExperimentEvents[E]): void => {
      try {
        fn(...args);
      } catch (err) {
        throw new Error(`callback "${name}" failed handling the ${event} event: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    };
    const events = exp.events;
    events.on(event, listener);
    this.offs.push(() => events.off(event, listener));
  }

  get active(): boolean {
    return this.offs.length > 0;
  }

  clear(): void {
    for (const off of this.offs.splice(0)) off();
  }
}
