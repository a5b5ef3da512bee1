import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadOptionalPackage, type RequireFunction } from './optional-package.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('loadOptionalPackage', () => {
  it('holds back tfjs\'s duplicate-kernel warnings while a package loads, and only those', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const fakeRequire = Object.assign(
      (name: string): unknown => {
        console.warn("The kernel 'Conv2D' for backend 'tensorflow' is already registered");
        console.warn('something else went wrong');
        return { name };
      },
      { resolve: (name: string): string => `/fake/${name}` },
    );
    const result = loadOptionalPackage('@tensorflow/tfjs-node', fakeRequire as RequireFunction);
    expect(result.status).toBe('ok');
    expect(warn.mock.calls).toEqual([['something else went wrong']]);
    console.warn('after loading');
    expect(warn.mock.calls.at(-1)).toEqual(['after loading']);
  });

  it('restores console.warn when the package fails to load', () => {
    const original = console.warn;
    const fakeRequire = Object.assign(
      (): unknown => {
        throw new Error('The Node.js native addon module (tfjs_binding.node) can not be found');
      },
      { resolve: (name: string): string => `/fake/${name}` },
    );
    const result = loadOptionalPackage('@tensorflow/tfjs-node', fakeRequire as RequireFunction);
    expect(result.status).toBe('failed');
    expect(result.detail).toContain('tfjs_binding.node');
    expect(console.warn).toBe(original);
  });
});
