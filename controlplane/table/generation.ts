// Table generations: strictly increasing, and max(previous + 1, Date.now()) so that a restarted control
// plane (which forgot its counter) still outranks the table it pushed before it died. `observe` lets the
// pusher move the clock past a generation the filter reports in a 409.

export class GenerationClock {
  private last = 0;
  constructor(private readonly now: () => number = Date.now) {}

  next(): number {
    this.last = Math.max(this.last + 1, Math.floor(this.now()));
    return this.last;
  }

  /** Makes the next generation greater than `generation`. */
  observe(generation: number): void {
    if (Number.isSafeInteger(generation) && generation > this.last) this.last = generation;
  }

  current(): number {
    return this.last;
  }
}
