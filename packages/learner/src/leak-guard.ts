import * as tf from '@tensorflow/tfjs';

/**
 * Thrown by a fit with `leakGuard: true` when the live tensor count grew from one epoch end to the next. The
 * message names the plugin and event whose hooks left the most tensors behind during that epoch.
 */
export class TensorLeakError extends Error {
  /** How many tensors the epoch added. */
  readonly growth: number;
  /** The plugin blamed, if a plugin hook left tensors behind. */
  readonly plugin: string | undefined;
  /** The event blamed. */
  readonly event: string | undefined;

  constructor(message: string, growth: number, plugin?: string, event?: string) {
    super(message);
    this.name = 'TensorLeakError';
    this.growth = growth;
    this.plugin = plugin;
    this.event = event;
  }
}

/**
 * Accounts tensors per (plugin, event): the dispatcher reports each hook's net change in `tf.memory().numTensors`
 * (after the loop has settled ownership of anything the hook replaced), and `checkEpoch` compares the count at
 * consecutive epoch ends. The first epoch end is the baseline, since optimizers create their slots lazily.
 */
export class LeakGuard {
  private readonly changes = new Map<string, { plugin: string; event: string; count: number }>();
  private baseline: number | undefined;

  /** Adds a hook's net tensor change. */
  record(plugin: string, event: string, change: number): void {
    if (change === 0) return;
    const key = `${plugin}\u0000${event}`;
    const entry = this.changes.get(key) ?? { plugin, event, count: 0 };
    entry.count += change;
    this.changes.set(key, entry);
  }

  /** Compares the tensor count with the previous epoch end; throws {@link TensorLeakError} if it grew. */
  checkEpoch(epoch: number): void {
    const count = tf.memory().numTensors;
    const baseline = this.baseline;
    this.baseline = count;
    const entries = [...this.changes.values()].sort((a, b) => b.count - a.count);
    this.changes.clear();
    if (baseline === undefined || count <= baseline) return;
    const growth = count - baseline;
    const worst = entries[0];
    const where = `tensor count grew by ${growth} over epoch ${epoch + 1}`;
    if (worst === undefined || worst.count <= 0) {
      throw new TensorLeakError(
        `${where}; no plugin hook left tensors behind, so the model, the loss, a metric or the optimizer did`,
        growth
      );
    }
    throw new TensorLeakError(
      `${where}; plugin "${worst.plugin}" left ${worst.count} tensors in ${worst.event}`,
      growth,
      worst.plugin,
      worst.event
    );
  }
}
