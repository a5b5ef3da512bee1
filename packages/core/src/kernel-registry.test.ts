import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  installKernelProviders,
  listKernelAssignments,
  listKernelProviders,
  removeKernelProvider,
  setKernelProvider,
  summariseKernels,
  withKernelProviders,
  type KernelProvider,
  type ProviderKernel,
} from './kernel-registry.js';
import { expectNoLeak } from './testing.js';

// The registry is exercised on the cpu backend's real table with `Neg` (tfjs has a stock kernel) and a made-up
// kernel name (tfjs has none). Each provider records that it ran, then hands the call down or answers itself.
const calls: string[] = [];
const declared: string[] = [];
const STOCK_NEG = tf.getKernel('Neg', 'cpu')?.kernelFunc;

function passing(name: string): ProviderKernel {
  return (args, next) => {
    calls.push(name);
    return next(args);
  };
}

function provider(name: string, priority: number, kernels: Record<string, ProviderKernel>, extra: Partial<KernelProvider> = {}): KernelProvider {
  const made: KernelProvider = { name, label: `label-${name}`, backend: 'cpu', priority, kernels, ...extra };
  setKernelProvider(made);
  declared.push(name);
  return made;
}

async function negate(values: number[]): Promise<number[]> {
  return expectNoLeak(async () => {
    const x = tf.tensor1d(values);
    const y = tf.neg(x);
    const out = Array.from(await y.data());
    tf.dispose([x, y]);
    return out;
  });
}

afterEach(() => {
  for (const name of declared.splice(0)) removeKernelProvider(name, 'cpu');
  calls.length = 0;
});

describe('kernel registry', () => {
  it('stacks providers by priority, each falling back to the next below and the last to the stock kernel', async () => {
    await tf.setBackend('cpu');
    installKernelProviders('cpu');
    provider('low', 10, { Neg: passing('low') });
    provider('high', 20, { Neg: passing('high') });
    provider('middle', 15, { Neg: passing('middle') });
    expect(await negate([1, -2, 3])).toEqual([-1, 2, -3]);
    expect(calls).toEqual(['high', 'middle', 'low']);
    expect(listKernelAssignments('cpu').find((a) => a.kernel === 'Neg')).toEqual({
      backend: 'cpu',
      kernel: 'Neg',
      servedBy: 'high',
      fallbacks: ['middle', 'low', 'stock'],
    });
  });

  it('lets a provider answer itself, so the ones below never run', async () => {
    await tf.setBackend('cpu');
    installKernelProviders('cpu');
    provider('low', 10, { Neg: passing('low') });
    provider('doubler', 20, {
      Neg: (args, next) => {
        calls.push('doubler');
        const once = next(args) as tf.TensorInfo;
        const doubled = next({ ...args, inputs: { x: once } }) as tf.TensorInfo;
        args.backend.disposeData(once.dataId);
        return doubled;
      },
    });
    // neg(neg(x)) = x, each neg through the provider below: the doubler never calls itself.
    expect(await negate([4, -5])).toEqual([4, -5]);
    expect(calls).toEqual(['doubler', 'low', 'low']);
  });

  it('throws naming the kernel, backend and provider when nothing is below and tfjs has no kernel', async () => {
    await tf.setBackend('cpu');
    installKernelProviders('cpu');
    provider('lonely', 10, { ConvkitTestOnly: passing('lonely') });
    const x = tf.tensor1d([1]);
    expect(() => tf.engine().runKernel('ConvkitTestOnly', { x }, {})).toThrow(
      "no 'ConvkitTestOnly' kernel on backend 'cpu' below provider 'lonely' (tfjs has none)",
    );
    x.dispose();
    expect(listKernelAssignments('cpu').find((a) => a.kernel === 'ConvkitTestOnly')).toMatchObject({ servedBy: 'lonely', fallbacks: [] });
    removeKernelProvider('lonely', 'cpu');
    expect(tf.getKernel('ConvkitTestOnly', 'cpu')).toBeUndefined();
    expect(listKernelAssignments('cpu').find((a) => a.kernel === 'ConvkitTestOnly')).toMatchObject({ servedBy: 'none', fallbacks: [] });
  });

  it('pins providers with withKernelProviders and restores the selection after, also on throw and after await', async () => {
    await tf.setBackend('cpu');
    installKernelProviders('cpu');
    provider('low', 10, { Neg: passing('low') });
    provider('high', 20, { Neg: passing('high') });
    await withKernelProviders({ disable: ['high'] }, async () => {
      expect(await negate([1])).toEqual([-1]);
    });
    expect(calls).toEqual(['low']);
    calls.length = 0;
    await withKernelProviders({ only: [] }, async () => {
      expect(tf.getKernel('Neg', 'cpu')?.kernelFunc).toBe(STOCK_NEG);
      expect(await negate([2])).toEqual([-2]);
    });
    expect(calls).toEqual([]);
    withKernelProviders({ only: ['high'] }, () => {
      expect(listKernelAssignments('cpu').find((a) => a.kernel === 'Neg')?.fallbacks).toEqual(['stock']);
      expect(listKernelProviders('cpu').find((p) => p.name === 'low')).toMatchObject({ status: 'disabled' });
    });
    expect(() =>
      withKernelProviders({ disable: ['low'] }, () => {
        throw new Error('inside');
      }),
    ).toThrow('inside');
    expect(await negate([3])).toEqual([-3]);
    expect(calls).toEqual(['high', 'low']);
    expect(() => withKernelProviders({ disable: ['nope'] }, () => 0)).toThrow("withKernelProviders: no kernel provider is named 'nope' (known: ");
  });

  it('installs idempotently: the same functions stay in tfjs, and removing every provider puts the stock kernel back', async () => {
    await tf.setBackend('cpu');
    installKernelProviders('cpu');
    const made = provider('only', 10, { Neg: passing('only') });
    const first = tf.getKernel('Neg', 'cpu')?.kernelFunc;
    expect(first).not.toBe(STOCK_NEG);
    installKernelProviders('cpu');
    setKernelProvider(made);
    expect(tf.getKernel('Neg', 'cpu')?.kernelFunc).toBe(first);
    removeKernelProvider('only', 'cpu');
    expect(tf.getKernel('Neg', 'cpu')?.kernelFunc).toBe(STOCK_NEG);
    setKernelProvider(made);
    expect(tf.getKernel('Neg', 'cpu')?.kernelFunc).toBe(first);
  });

  it('lists a declining provider with its reason and never runs it', async () => {
    await tf.setBackend('cpu');
    installKernelProviders('cpu');
    provider('runs', 10, { Neg: passing('runs') });
    provider('absent', 50, { Neg: passing('absent') }, { declined: 'its addon is not built' });
    expect(await negate([1])).toEqual([-1]);
    expect(calls).toEqual(['runs']);
    const statuses = listKernelProviders('cpu').filter((p) => p.name === 'runs' || p.name === 'absent');
    expect(statuses).toEqual([
      { name: 'absent', label: 'label-absent', backend: 'cpu', priority: 50, kernels: ['Neg'], status: 'declined', reason: 'its addon is not built', serving: 0 },
      { name: 'runs', label: 'label-runs', backend: 'cpu', priority: 10, kernels: ['Neg'], status: 'active', serving: 1 },
    ]);
    expect(withKernelProviders({ only: ['runs'] }, () => summariseKernels('cpu'))).toBe('label-runs 1, stock rest');
  });

  it('rejects a provider without a usable name or priority', () => {
    expect(() => setKernelProvider({ name: 'stock', label: 'x', backend: 'cpu', priority: 1, kernels: {} })).toThrow(
      "a kernel provider needs a name other than '', 'stock' and 'none' (received \"stock\")",
    );
    expect(() => setKernelProvider({ name: 'x', label: 'x', backend: 'cpu', priority: Number.NaN, kernels: {} })).toThrow(
      "kernel provider 'x' needs a finite priority (received NaN)",
    );
  });
});
