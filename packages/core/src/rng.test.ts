import { describe, expect, it } from 'vitest';
import { Rng, createRng } from './rng.js';

const draws = (rng: Rng, count: number): number[] => Array.from({ length: count }, () => rng.next());

describe('Rng', () => {
  it('gives the same sequence for the same seed and different ones for different seeds', () => {
    expect(draws(createRng(5), 50)).toEqual(draws(new Rng(5), 50));
    expect(draws(createRng(5), 50)).not.toEqual(draws(createRng(6), 50));
    // Seeds that differ only above 32 bits, or only in sign, still give different streams.
    expect(draws(createRng(1), 10)).not.toEqual(draws(createRng(1 + 2 ** 32), 10));
    expect(draws(createRng(3), 10)).not.toEqual(draws(createRng(-3), 10));
  });

  it('continues identically after a JSON round-trip of getState/setState mid-stream', () => {
    const rng = createRng(99);
    draws(rng, 17);
    rng.normal();
    const saved = JSON.stringify(rng.getState());
    const expected = [rng.next(), rng.normal(), rng.int(0, 1000), rng.uniform(-2, 3), ...rng.permutation(8), rng.tfSeed()];
    const restored = createRng(0);
    restored.setState(JSON.parse(saved));
    const actual = [restored.next(), restored.normal(), restored.int(0, 1000), restored.uniform(-2, 3), ...restored.permutation(8), restored.tfSeed()];
    expect(actual).toEqual(expected);
  });

  it('next() is uniform on [0, 1): mean 1/2 and variance 1/12 within 5 standard errors over 1e5 draws', () => {
    const values = draws(createRng(2024), 100_000);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / 1e5));
    // Var of the sample variance of U(0,1) is (1/80 − 1/144)/n.
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(5 * Math.sqrt((1 / 80 - 1 / 144) / 1e5));
    // 53-bit floats: the low bits vary, so values are not all multiples of 2^-32.
    expect(values.some((v) => (v * 2 ** 32) % 1 !== 0)).toBe(true);
  });

  it('uniform(low, high) stays in [low, high) with the right mean', () => {
    const rng = createRng(8);
    const values = Array.from({ length: 20_000 }, () => rng.uniform(-3, 5));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(-3);
    expect(Math.max(...values)).toBeLessThan(5);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(Math.abs(mean - 1)).toBeLessThan(5 * Math.sqrt(64 / 12 / 20_000));
  });

  it('normal() has mean ≈ 0 and std ≈ 1, and normal(mean, std) scales', () => {
    const rng = createRng(31);
    const values = Array.from({ length: 100_000 }, () => rng.normal());
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(1e5));
    expect(Math.abs(std - 1)).toBeLessThan(5 * Math.sqrt(1 / (2 * 1e5)));
    // About 4.55% of a normal lies beyond 2 std.
    const tails = values.filter((v) => Math.abs(v) > 2).length / values.length;
    expect(Math.abs(tails - 0.0455)).toBeLessThan(0.004);
    const scaled = Array.from({ length: 20_000 }, () => rng.normal(10, 0.5));
    expect(Math.abs(scaled.reduce((a, b) => a + b, 0) / scaled.length - 10)).toBeLessThan(0.02);
  });

  it('int(low, high) stays in [low, high) and hits every value about equally', () => {
    const rng = createRng(4);
    const counts = new Map<number, number>();
    for (let i = 0; i < 70_000; i++) {
      const v = rng.int(-3, 4);
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    for (const count of counts.values()) expect(Math.abs(count - 10_000)).toBeLessThan(500);
    expect(rng.int(7, 8)).toBe(7);
  });

  it('permutation(n) is a permutation of 0…n−1 and shuffle permutes in place', () => {
    const rng = createRng(12);
    const perm = rng.permutation(1000);
    expect(perm).toBeInstanceOf(Int32Array);
    expect([...perm].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect([...perm]).not.toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(rng.permutation(0).length).toBe(0);
    const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const same = rng.shuffle(items);
    expect(same).toBe(items);
    expect([...items].sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
  });

  it('shuffle permutes a typed array in place exactly as it permutes the same plain array', () => {
    const typed = Int32Array.from({ length: 50 }, (_, i) => i);
    const plain = Array.from({ length: 50 }, (_, i) => i);
    expect(createRng(9).shuffle(typed)).toBe(typed);
    createRng(9).shuffle(plain);
    expect(Array.from(typed)).toEqual(plain);
    expect(Array.from(typed).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(typed)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('shuffle draws every ordering of 3 items about equally often', () => {
    const rng = createRng(77);
    const counts = new Map<string, number>();
    for (let i = 0; i < 60_000; i++) {
      const key = rng.shuffle([1, 2, 3]).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const count of counts.values()) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });

  it('fork() gives deterministic children that differ from each other and from the parent', () => {
    const a = createRng(21);
    const b = createRng(21);
    const childA = a.fork();
    const childB = b.fork();
    expect(draws(childA, 20)).toEqual(draws(childB, 20));
    const second = a.fork();
    expect(draws(second, 20)).not.toEqual(draws(b.fork().fork(), 20));
    expect(draws(a.fork(), 20)).not.toEqual(draws(a, 20));
    // Parent and child streams are uncorrelated.
    const parent = draws(createRng(5), 20_000);
    const child = draws(createRng(5).fork(), 20_000);
    const correlation = parent.reduce((s, p, i) => s + (p - 0.5) * ((child[i] as number) - 0.5), 0) / 20_000 / (1 / 12);
    expect(Math.abs(correlation)).toBeLessThan(5 / Math.sqrt(20_000));
  });

  it('tfSeed() returns non-negative 31-bit integers', () => {
    const rng = createRng(1);
    for (let i = 0; i < 1000; i++) {
      const seed = rng.tfSeed();
      expect(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 31).toBe(true);
    }
  });

  it('rejects bad seeds, bounds and states with messages naming the value', () => {
    expect(() => createRng(Number.NaN)).toThrow('seed must be a safe integer (received NaN)');
    expect(() => createRng(1.5)).toThrow('seed must be a safe integer (received 1.5)');
    expect(() => createRng(2 ** 60)).toThrow('seed must be a safe integer');
    expect(() => createRng(-7)).not.toThrow();
    const rng = createRng(0);
    expect(() => rng.int(3, 3)).toThrow('high must be greater than low (received low 3, high 3)');
    expect(() => rng.int(0, 2.5)).toThrow('high must be a safe integer (received 2.5)');
    expect(() => rng.uniform(1, Number.POSITIVE_INFINITY)).toThrow('high must be a finite number (received Infinity)');
    expect(() => rng.normal(0, -1)).toThrow('std must be >= 0 (received -1)');
    expect(() => rng.permutation(-1)).toThrow('n must be a non-negative integer (received -1)');
    expect(() => rng.setState({ algorithm: 'xoroshiro128plus', words: [1, 2] })).toThrow('state must be an RngState');
  });
});
