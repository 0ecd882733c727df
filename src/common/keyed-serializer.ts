/**
 * Runs the tasks given for one key one after another, in this process; tasks of other keys run
 * freely. For work that must not interleave with itself on SQLite, whose one connection does not
 * isolate concurrent transactions from each other. A task runs whether the one before it
 * succeeded or failed.
 */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.catch(() => undefined);
    this.tails.set(key, settled);
    void settled.then(() => {
      if (this.tails.get(key) === settled) this.tails.delete(key);
    });
    return run;
  }

  /** Keys with tasks queued or running (for tests: the map empties once they settle). */
  get size(): number {
    return this.tails.size;
  }
}
