import { CANCEL_EVENTS, LOOP_EVENTS, type PluginEvent } from './events.js';
import type { Plugin } from './plugin.js';

const DEPTH: Record<string, number> = {
  Fit: 0,
  Epoch: 1,
  Validate: 1,
  Batch: 2,
  Pred: 2,
  Loss: 2,
  Backward: 2,
  Step: 3,
};

function depthOf(event: PluginEvent): number {
  const level = event.replace(/^(before|after)(Cancel)?/, '');
  return DEPTH[level] ?? 0;
}

/** The events in firing order, each cancel event just before its level's after-event. */
function eventSequence(): PluginEvent[] {
  const sequence: PluginEvent[] = [];
  for (const event of LOOP_EVENTS) {
    const cancel = CANCEL_EVENTS.find((c) => c === event.replace(/^after/, 'afterCancel'));
    if (cancel !== undefined) sequence.push(cancel);
    sequence.push(event);
  }
  return sequence;
}

/** Renders the loop and its plugins; a plugin conflict is reported as the last line instead of throwing. */
export function describeLoop(orderedPlugins: () => Plugin[]): string {
  let plugins: Plugin[];
  let note = '';
  try {
    plugins = orderedPlugins();
  } catch (error) {
    return `cannot order the plugins: ${error instanceof Error ? error.message : String(error)}`;
  }
  const lines: string[] = [];
  for (const event of eventSequence()) {
    const hooked = plugins.filter((p) => typeof p[event] === 'function');
    const isCancel = event.startsWith('afterCancel');
    if (isCancel && hooked.length === 0) continue;
    const names = hooked.map((p) => `${p.name} (${p.order ?? 0})`).join(', ') || '—';
    lines.push(`${'  '.repeat(depthOf(event))}${event}: ${names}`);
  }
  if (plugins.length === 0) note = '\n(no plugins)';
  return lines.join('\n') + note;
}
