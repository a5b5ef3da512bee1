/** The culprit name the leak guard uses for the loss function. */
export const LOSS_CULPRIT = 'the loss function';

/**
 * Thrown by a fit with `leakGuard: true` when the live tensor count grew: from the first completed step to the end
 * of the first epoch's training, or from one epoch end to the next. The message names what left the most tensors
 * behind: a plugin hook (with its event) or the loss function.
 */
export class TensorLeakError extends Error {
  /** How many tensors the window added. */
  readonly growth: number;
  /** The plugin blamed, if a plugin hook left tensors behind. */
  readonly plugin: string | undefined;
  /** The event blamed (`'loss'` when the loss function is blamed). */
  readonly event: string | undefined;

  constructor(message: string, growth: number, plugin?: string, event?: string) {
    super(message);
    this.name = 'TensorLeakError';
    this.growth = growth;
    this.plugin = plugin;
    this.event = event;
  }
}

interface Change {
  culprit: string;
  event: string;
  count: number;
  plugin: boolean;
}

/**
 * Accounts tensors per culprit: the dispatcher reports each hook's net change in `tf.memory().numTensors` (after the
 * loop has settled ownership of anything the hook replaced), the loop reports leaks it traced to the loss function,
 * and the counts the loop passes in (live tensors minus those the loop holds on purpose until its next read) are
 * compared over windows. The first window starts after the fit's first completed step (optimizers create their slots
 * lazily in it) and ends with the first epoch's training, so a leak shows within `fit(1)`; later windows run from
 * epoch end to epoch end.
 */
export class LeakGuard {
  private readonly changes = new Map<string, Change>();
  private baseline: number | undefined;

  /** Adds a plugin hook's net tensor change. */
  record(plugin: string, event: string, change: number): void {
    this.add(plugin, event, change, true);
  }

  /** Adds tensors left behind by the loss function. */
  recordLoss(change: number): void {
    this.add(LOSS_CULPRIT, 'loss', change, false);
  }

  /** Whether the first window has started. */
  get started(): boolean {
    return this.baseline !== undefined;
  }

  /** Starts the first window (after the fit's first completed step), with the loop's tensor count. */
  start(count: number): void {
    this.baseline = count;
    this.changes.clear();
  }

  /**
   * Ends a window at `count` (the live tensors minus those the loop holds until its next read) and starts the next;
   * throws {@link TensorLeakError} if the count grew. `where` names the window ("epoch 1's training").
   */
  check(count: number, where: string): void {
    const baseline = this.baseline;
    this.baseline = count;
    const entries = [...this.changes.values()].sort((a, b) => b.count - a.count);
    this.changes.clear();
    if (baseline === undefined || count <= baseline) return;
    const growth = count - baseline;
    const worst = entries[0];
    const message = `tensor count grew by ${growth} over ${where}`;
    const tensors = (n: number): string => `${n} tensor${n === 1 ? '' : 's'}`;
    if (worst === undefined || worst.count <= 0) {
      throw new TensorLeakError(
        `${message}; no plugin hook and not the loss function left tensors behind, so the model, a metric, the ` +
          'optimizer or the data did',
        growth
      );
    }
    if (!worst.plugin) {
      throw new TensorLeakError(
        `${message}; ${worst.culprit} left ${tensors(worst.count)} (it must keep no tensors: no tf.keep, no outer arrays)`,
        growth,
        undefined,
        worst.event
      );
    }
    throw new TensorLeakError(
      `${message}; plugin "${worst.culprit}" left ${tensors(worst.count)} in ${worst.event}`,
      growth,
      worst.culprit,
      worst.event
    );
  }

  private add(culprit: string, event: string, change: number, plugin: boolean): void {
    if (change === 0) return;
    const key = `${culprit}\u0000${event}`;
    const entry = this.changes.get(key) ?? { culprit, event, count: 0, plugin };
    entry.count += change;
    this.changes.set(key, entry);
  }
}
