import { describe, expect, it } from "vitest";
import { clearlyAbove, difference, fmt, pct, printVerdict, summarize, verdictLine, within } from "./verdict";

describe("summarize", () => {
  it("gives the mean and the sample standard deviation (n − 1)", () => {
    const s = summarize([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(s.mean).toBe(5);
    // sum of squared deviations 32, n − 1 = 7
    expect(s.spread).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect([s.n, s.min, s.max]).toEqual([8, 2, 9]);
  });

  it("has no spread for one value", () => {
    expect(summarize([0.8]).spread).toBe(0);
  });

  it("rejects an empty list and non-finite values, naming them", () => {
    expect(() => summarize([])).toThrow("values must be a non-empty array of numbers (received [])");
    expect(() => summarize([1, Number.NaN])).toThrow("values[1] must be a finite number (received NaN)");
  });
});

describe("fmt and pct", () => {
  it("prints mean ± spread with the seed count", () => {
    expect(pct(summarize([0.8, 0.82, 0.84]))).toBe("82.0 ± 2.0% (n=3)");
    expect(fmt(summarize([15083.08]), { precision: true, digits: 5 })).toBe("15083 (n=1)");
    expect(fmt(0.5, { digits: 2 })).toBe("0.50");
    expect(fmt(summarize([2.302585, 2.302589]), { precision: true, digits: 5 })).toBe("2.3026 ± 0.0000028 (n=2)");
  });
});

describe("difference", () => {
  it("is real only when it exceeds the sum of the spreads", () => {
    const a = summarize([0.9, 0.92, 0.94]); // 0.92 ± 0.02
    const b = summarize([0.85, 0.86, 0.87]); // 0.86 ± 0.01
    const d = difference(a, b);
    expect(d.difference).toBeCloseTo(0.06, 12);
    expect(d.spread).toBeCloseTo(0.03, 12);
    expect(d.real).toBe(true);
    expect(clearlyAbove(a, b)).toBe(true);
    expect(clearlyAbove(b, a)).toBe(false);
  });

  it("is not real when the bands overlap", () => {
    const a = summarize([0.84, 0.83, 0.842]);
    const b = summarize([0.828, 0.834, 0.82]);
    expect(difference(a, b).real).toBe(false);
  });

  it("is never real with a single seed on a side", () => {
    expect(difference(summarize([0.99]), summarize([0.1, 0.11])).real).toBe(false);
  });
});

describe("within", () => {
  it("compares the mean with the target and a tolerance", () => {
    expect(within(summarize([0.9, 0.94]), 0.92, 0.005)).toBe(true);
    expect(within(0.9, 0.92, 0.01)).toBe(false);
    expect(() => within(0.9, 0.92, -1)).toThrow("tolerance must be a non-negative number (received -1)");
  });
});

describe("verdictLine", () => {
  const pass = { claim: "A", measured: "1", ok: true };
  const failA = { claim: "B beats C", measured: "0.2 ± 0.3", ok: false };
  const failB = { claim: "D", measured: "5", ok: false, why: "D is 5, not 1" };

  it("is reproduced when every check passes", () => {
    expect(verdictLine([pass, pass])).toBe("reproduced");
  });

  it("is partly when some pass, naming the failed ones", () => {
    expect(verdictLine([pass, failA, failB])).toBe("partly: B beats C: measured 0.2 ± 0.3; D is 5, not 1");
  });

  it("is not reproduced when none pass", () => {
    expect(verdictLine([failB])).toBe("not reproduced: D is 5, not 1");
  });

  it("needs at least one check", () => {
    expect(() => verdictLine([])).toThrow("checks must be a non-empty array of Check");
  });
});

describe("printVerdict", () => {
  it("prints the checks and the four lines the README table reads, verdict last", () => {
    const lines: string[] = [];
    const line = printVerdict([{ claim: "x", measured: "1", ok: true }, { claim: "y", measured: "2", ok: false }], { reported: "r", measured: "m", size: "full" }, (l) => lines.push(l));
    expect(line).toBe("partly: y: measured 2");
    expect(lines).toEqual(["[ok] x — measured 1", "[no] y — measured 2", "size: full", "reported: r", "measured: m", "verdict: partly: y: measured 2"]);
  });
});
