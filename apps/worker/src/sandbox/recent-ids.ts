/**
 * The ids of the last `max` sandboxes a worker created, oldest dropped first. A removal Docker
 * acknowledged can still leave containerd's container behind (seen after containerd restarted);
 * on stop the worker clears those of its own at once instead of leaving them to the next start.
 */
export class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly max = 1024) {}

  add(id: string): void {
    this.ids.delete(id);
    this.ids.add(id);
    if (this.ids.size > this.max) {
      const [oldest] = this.ids;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }
}
