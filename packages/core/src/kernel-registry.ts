// One table of who serves each tfjs kernel on each backend. Providers (convkit's wasm gradients, its wasm matmul
// fast path, oneDNN through @convkit/native, WGSL on webgpu) declare the kernels they serve with a priority; the
// registry stacks them over tfjs's own (stock) kernel, so each one falls back to the next below and never to itself.
import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from './wasm-kernel-call.js';

/** What a kernel returns: one tensor info or several. */
export type KernelResult = tf.TensorInfo | tf.TensorInfo[];

/** Runs the same call on the provider below in the stack, or on tfjs's stock kernel at the bottom. */
export type NextKernel = (args: KernelArgs) => KernelResult;

/** A provider's kernel: tfjs's kernel arguments, and `next` for the calls it does not take (a dtype, a layout, …). */
export type ProviderKernel = (args: KernelArgs, next: NextKernel) => KernelResult;

/** A set of kernels for one tfjs backend, stacked over tfjs's stock kernels by {@link setKernelProvider}. */
export interface KernelProvider {
  /** Unique on its backend, used to disable or pin it (`'native'`, `'wasm-gradients'`, `'webgpu-wgsl'`). */
  readonly name: string;
  /** Its name in summaries (`'oneDNN'`, `'convkit-wasm'`); providers with one label are counted together. */
  readonly label: string;
  /** The tfjs backend it serves (`'wasm'`, `'webgpu'`). */
  readonly backend: string;
  /** Higher runs first; the stock kernel is below every provider. */
  readonly priority: number;
  /** The kernels it serves, by tfjs kernel name. */
  readonly kernels: Readonly<Record<string, ProviderKernel>>;
  /** Why it serves nothing here (e.g. `'@convkit/native is not built'`); a declined provider stays listed, with the reason. */
  readonly declined?: string;
}

/** Which providers run: `disable` takes the named ones out; `only` keeps just the named ones (`[]`: stock kernels only). */
export interface KernelProviderSelection {
  disable?: readonly string[];
  only?: readonly string[];
}

/** One kernel of an installed backend: who serves it and what it falls back to, top first, ending in `'stock'`. */
export interface KernelAssignment {
  backend: string;
  kernel: string;
  /** The provider's name, `'stock'` (tfjs's own), or `'none'` (tfjs has none and no provider serves it). */
  servedBy: string;
  /** The rest of the stack below it: provider names, then `'stock'` when tfjs has the kernel. */
  fallbacks: string[];
}

/** A provider as listed for `doctor`: whether it runs, and if not, why. */
export interface KernelProviderStatus {
  name: string;
  label: string;
  backend: string;
  priority: number;
  status: 'active' | 'declined' | 'disabled';
  /** For `'declined'` the provider's reason; for `'disabled'` the selection that disabled it. */
  reason?: string;
  kernels: string[];
  /** How many kernels it is the top of (0 unless active on an installed backend). */
  serving: number;
}

interface RegistryState {
  providers: Map<string, KernelProvider>;
  stock: Map<string, tf.KernelConfig | null>;
  chains: Map<string, KernelProvider[]>;
  installed: Set<string>;
  wrappers: Map<string, { impl: ProviderKernel; func: tf.KernelFunc }>;
  selection: { disable: ReadonlySet<string>; only?: ReadonlySet<string> };
}

// tfjs keeps its kernel table on the global object, so the registry does too: a second copy of @convkit/core in one
// process (or a test runner that re-evaluates modules per file) then shares it, and tfjs's stock kernels are recorded
// once, never mistaken for another copy's providers.
const scope = globalThis as { [key: symbol]: RegistryState | undefined };
const STATE = Symbol.for('convkit.kernel-registry');
const state: RegistryState = (scope[STATE] ??= {
  providers: new Map(),
  stock: new Map(),
  chains: new Map(),
  installed: new Set(),
  wrappers: new Map(),
  selection: { disable: new Set() },
});
const { providers, stock, chains, installed, wrappers } = state;

const key = (...parts: string[]): string => parts.join('\u0000');

function isActive(provider: KernelProvider): boolean {
  if (provider.declined !== undefined || state.selection.disable.has(provider.name)) return false;
  return state.selection.only === undefined || state.selection.only.has(provider.name);
}

function providersOf(backend: string): KernelProvider[] {
  return [...providers.values()].filter((provider) => provider.backend === backend);
}

/** The stack for one kernel, top first: active providers by priority (ties by name), stock below them all. */
function stackFor(backend: string, kernel: string): KernelProvider[] {
  return providersOf(backend)
    .filter((provider) => isActive(provider) && provider.kernels[kernel] !== undefined)
    .sort((p, q) => q.priority - p.priority || p.name.localeCompare(q.name));
}

/** The kernel below `providerName` in the current stack (its top when the provider is no longer in it). */
function below(backend: string, kernel: string, providerName: string): tf.KernelFunc {
  const chain = chains.get(key(backend, kernel)) ?? [];
  const index = chain.findIndex((provider) => provider.name === providerName);
  const next = chain[index + 1];
  if (next !== undefined) return wrapperFor(next, kernel);
  const bottom = stock.get(key(backend, kernel));
  if (bottom === null || bottom === undefined) {
    throw new Error(`no '${kernel}' kernel on backend '${backend}' below provider '${providerName}' (tfjs has none)`);
  }
  return bottom.kernelFunc;
}

/** One tfjs kernel function per (provider, kernel), made once, so re-installing leaves tfjs's table unchanged. */
function wrapperFor(provider: KernelProvider, kernel: string): tf.KernelFunc {
  const id = key(provider.backend, kernel, provider.name);
  const impl = provider.kernels[kernel] as ProviderKernel;
  const cached = wrappers.get(id);
  if (cached !== undefined && cached.impl === impl) return cached.func;
  const next: NextKernel = (args) => below(provider.backend, kernel, provider.name)(args as never);
  const func = ((args: KernelArgs) => impl(args, next)) as unknown as tf.KernelFunc;
  Object.defineProperty(func, 'name', { value: impl.name === '' ? kernel : impl.name });
  wrappers.set(id, { impl, func });
  return func;
}

/** Puts the top of each kernel's stack into tfjs's table, touching only the entries that change. */
function sync(backend: string): void {
  if (!installed.has(backend)) return;
  const names = new Set<string>([...stock.keys()].filter((k) => k.startsWith(key(backend, ''))).map((k) => k.split('\u0000')[1] as string));
  for (const provider of providersOf(backend)) for (const kernel of Object.keys(provider.kernels)) names.add(kernel);
  for (const kernel of names) {
    const id = key(backend, kernel);
    if (!stock.has(id)) stock.set(id, tf.getKernel(kernel, backend) ?? null);
    const chain = stackFor(backend, kernel);
    chains.set(id, chain);
    const bottom = stock.get(id) ?? null;
    const top = chain[0] === undefined ? bottom?.kernelFunc : wrapperFor(chain[0], kernel);
    const current = tf.getKernel(kernel, backend);
    if (current?.kernelFunc === top) continue;
    if (current !== undefined) tf.unregisterKernel(kernel, backend);
    if (top === undefined) continue;
    // The stock kernel's setup and dispose (wasm binds its functions there) stay with whatever sits on top.
    tf.registerKernel({
      kernelName: kernel,
      backendName: backend,
      kernelFunc: top,
      ...(bottom?.setupFunc === undefined ? {} : { setupFunc: bottom.setupFunc }),
      ...(bottom?.disposeFunc === undefined ? {} : { disposeFunc: bottom.disposeFunc }),
    });
  }
}

/**
 * Declares (or replaces, by name and backend) a kernel provider. When its backend is installed
 * ({@link installKernelProviders}), tfjs's table follows at once. Makes no tensors.
 *
 * @example
 * ```ts
 * setKernelProvider({ name: 'my-sum', label: 'mine', backend: 'wasm', priority: 300, kernels: { Sum: (args, next) => next(args) } });
 * ```
 */
export function setKernelProvider(provider: KernelProvider): void {
  if (typeof provider.name !== 'string' || provider.name === '' || provider.name === 'stock' || provider.name === 'none') {
    throw new Error(`a kernel provider needs a name other than '', 'stock' and 'none' (received ${JSON.stringify(provider.name)})`);
  }
  if (!Number.isFinite(provider.priority)) {
    throw new Error(`kernel provider '${provider.name}' needs a finite priority (received ${String(provider.priority)})`);
  }
  providers.set(key(provider.backend, provider.name), provider);
  sync(provider.backend);
}

/** Removes a provider; its kernels fall back to the ones below. A no-op when it is not declared. */
export function removeKernelProvider(name: string, backend: string): void {
  if (providers.delete(key(backend, name))) sync(backend);
}

/** The provider declared under `name` on `backend`, if any. */
export function getKernelProvider(name: string, backend: string): KernelProvider | undefined {
  return providers.get(key(backend, name));
}

/**
 * Records tfjs's stock kernels of `backend` (once per kernel) and puts each kernel's top provider in tfjs's table;
 * from then on that backend follows every provider change. Call it after the backend's package is loaded. Calling it
 * again is a no-op. Makes no tensors.
 */
export function installKernelProviders(backend: string): void {
  installed.add(backend);
  sync(backend);
}

/**
 * Runs `fn` (sync or async) with only some providers: `disable` names providers to take out, `only` names the ones to
 * keep (`only: []` runs tfjs's stock kernels alone). The previous selection comes back afterwards, also when `fn`
 * throws. For tests and benchmarks that pin a provider without touching tfjs's globals. Throws on a name no
 * provider has. Makes no tensors.
 *
 * @example
 * ```ts
 * const stockOnly = await withKernelProviders({ only: [] }, () => train());
 * const noOneDnn = await withKernelProviders({ disable: ['native'] }, () => train());
 * ```
 */
export function withKernelProviders<T>(choice: KernelProviderSelection, fn: () => T): T {
  const known = new Set([...providers.values()].map((provider) => provider.name));
  for (const name of [...(choice.disable ?? []), ...(choice.only ?? [])]) {
    if (!known.has(name)) {
      throw new Error(`withKernelProviders: no kernel provider is named '${name}' (known: ${[...known].sort().join(', ') || 'none'})`);
    }
  }
  const previous = state.selection;
  const restore = (): void => {
    state.selection = previous;
    for (const backend of installed) sync(backend);
  };
  state.selection = {
    disable: new Set([...previous.disable, ...(choice.disable ?? [])]),
    ...(choice.only !== undefined ? { only: new Set(choice.only) } : previous.only !== undefined ? { only: previous.only } : {}),
  };
  for (const backend of installed) sync(backend);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    restore();
    throw error;
  }
  if (result instanceof Promise) return result.finally(restore) as T;
  restore();
  return result;
}

/**
 * Who serves `kernel` on `backend` now: a provider's name, `'stock'`, or `'none'` (one lookup, for hot paths; see
 * {@link listKernelAssignments} for the whole table).
 */
export function kernelServedBy(backend: string, kernel: string): string {
  const top = installed.has(backend) ? chains.get(key(backend, kernel))?.[0] : undefined;
  if (top !== undefined) return top.name;
  return tf.getKernel(kernel, backend) === undefined ? 'none' : 'stock';
}

/** Every kernel a provider serves on an installed `backend`, sorted by name, with who serves it and the stack below. */
export function listKernelAssignments(backend: string): KernelAssignment[] {
  if (!installed.has(backend)) return [];
  return [...chains.entries()]
    .filter(([id]) => id.startsWith(key(backend, '')))
    .map(([id, chain]) => {
      const kernel = id.split('\u0000')[1] as string;
      const hasStock = (stock.get(id) ?? null) !== null;
      const stack = [...chain.map((provider) => provider.name), ...(hasStock ? ['stock'] : [])];
      return { backend, kernel, servedBy: stack[0] ?? 'none', fallbacks: stack.slice(1) };
    })
    .sort((p, q) => p.kernel.localeCompare(q.kernel));
}

/** Every declared provider (on `backend`, or all), highest priority first: active, declined (why) or disabled. */
export function listKernelProviders(backend?: string): KernelProviderStatus[] {
  const serving = (provider: KernelProvider): number =>
    listKernelAssignments(provider.backend).filter((assignment) => assignment.servedBy === provider.name).length;
  return [...providers.values()]
    .filter((provider) => backend === undefined || provider.backend === backend)
    .sort((p, q) => p.backend.localeCompare(q.backend) || q.priority - p.priority || p.name.localeCompare(q.name))
    .map((provider) => {
      const base = { name: provider.name, label: provider.label, backend: provider.backend, priority: provider.priority, kernels: Object.keys(provider.kernels).sort() };
      if (provider.declined !== undefined) return { ...base, status: 'declined' as const, reason: provider.declined, serving: 0 };
      if (!isActive(provider)) {
        const reason = state.selection.disable.has(provider.name) ? `disabled by withKernelProviders` : `not in withKernelProviders' only list`;
        return { ...base, status: 'disabled' as const, reason, serving: 0 };
      }
      return { ...base, status: 'active' as const, serving: serving(provider) };
    });
}

/**
 * The compact kernel line of the startup summary: kernels served per provider label, largest first, e.g.
 * `'oneDNN 7, convkit-wasm 3, stock rest'` (declined providers and their reasons are in {@link listKernelProviders}).
 * Undefined when `backend` has no providers.
 */
export function summariseKernels(backend: string): string | undefined {
  const statuses = listKernelProviders(backend);
  if (statuses.length === 0) return undefined;
  const counts = new Map<string, number>();
  for (const status of statuses) if (status.serving > 0) counts.set(status.label, (counts.get(status.label) ?? 0) + status.serving);
  const served = [...counts.entries()].sort((p, q) => q[1] - p[1]).map(([label, count]) => `${label} ${count}`);
  return [...served, 'stock rest'].join(', ');
}
