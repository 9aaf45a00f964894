import type { TaskEvent } from './tasks/types.js';

/**
 * The in-process event bus. Publishers (the task runner, later the lab and consoles) emit
 * typed events; the GUI bridge and the CLI subscribe. Extend EventMap to add a topic.
 * Cross-workstation changes arrive through PostgreSQL NOTIFY (channel vlx_events), not here.
 */
export interface EventMap {
  task: TaskEvent;
}

export type Topic = keyof EventMap;
type Listener<T extends Topic> = (event: EventMap[T]) => void;

export class EventBus {
  private readonly listeners = new Map<Topic, Set<Listener<any>>>();

  /** Subscribe; the returned function unsubscribes. */
  on<T extends Topic>(topic: T, fn: Listener<T>): () => void {
    let set = this.listeners.get(topic);
    if (!set) this.listeners.set(topic, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  /** Deliver synchronously, in subscription order. A throwing listener must not break the publisher or the others. */
  emit<T extends Topic>(topic: T, event: EventMap[T]): void {
    for (const fn of [...(this.listeners.get(topic) ?? [])]) {
      try {
        fn(event);
      } catch {
        // a subscriber's bug is its own; the workflow keeps running
      }
    }
  }

  listenerCount(topic: Topic): number {
    return this.listeners.get(topic)?.size ?? 0;
  }
}

export const events = new EventBus();
