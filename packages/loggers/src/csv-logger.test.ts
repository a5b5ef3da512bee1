import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@convkit/core/testing';
import { CancelValidate, type History, type Plugin } from '@convkit/learner';
import { sgd } from '@convkit/optim';
import { beforeAll, describe, expect, it } from 'vitest';
import { csvLogger } from './csv-logger.js';
import { parseCsv } from './csv-format.js';
import { crashAndResume, linearRun, temporaryFolder } from './run.test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const readCsv = async (path: string): Promise<string[][]> => parseCsv(await readFile(path, 'utf8'), ',');

/** The rows a history should give, in the logger's column order. */
function expectedRows(history: History): string[][] {
  return history.epochs.map((e) => [
    String(e.epoch),
    String(e.step),
    String(e.seconds),
    ...Object.values(e.train).map(String),
    ...Object.values(e.valid).map(String),
    ...Object.values(e.hypers).map(String),
  ]);
}

describe('csvLogger', () => {
  it('writes one row per epoch with every metric and hyperparameter, values as in the history', async () => {
    const path = join(await temporaryFolder(), 'logs', 'epochs.csv');
    let history: History | undefined;
    await expectNoLeak(async () => {
      const run = linearRun([csvLogger(path)]);
      history = await run.learner.fit(3);
      run.dispose();
    });
    const [header, ...rows] = await readCsv(path);
    expect(header).toEqual(['epoch', 'step', 'seconds', 'train.loss', 'valid.loss', 'learningRate']);
    expect(rows).toEqual(expectedRows(history!));
    expect(rows.map((row) => Number(row[3]))).toEqual(history!.epochs.map((e) => e.train.loss));
  });

  it('writes every parameter group\'s hyperparameters', async () => {
    const path = join(await temporaryFolder(), 'groups.csv');
    const run = linearRun([csvLogger(path)], ([w, b]) =>
      sgd({ learningRate: 0.1, momentum: 0.9, paramGroups: [{ variables: [w!] }, { variables: [b!], hypers: { learningRate: 0.01 } }] }),
    );
    const history = await run.learner.fit(2);
    run.dispose();
    const [header, ...rows] = await readCsv(path);
    const rate = header!.indexOf('learningRate');
    const groupRate = header!.findIndex((column) => /^learningRate\/1$/.test(column));
    expect(rate).toBeGreaterThan(0);
    expect(groupRate).toBeGreaterThan(0);
    expect(rows.map((row) => [Number(row[rate]), Number(row[groupRate])])).toEqual([
      [0.1, 0.01],
      [0.1, 0.01],
    ]);
    expect(rows).toEqual(expectedRows(history));
  });

  it('writes NA for a metric missing in an epoch and adds the column when it first appears', async () => {
    const path = join(await temporaryFolder(), 'na.csv');
    const skipFirstValidation: Plugin = {
      name: 'skipFirstValidation',
      beforeValidate(ctx) {
        if (ctx.epoch === 0) throw new CancelValidate('not yet');
      },
    };
    const run = linearRun([csvLogger(path), skipFirstValidation]);
    const history = await run.learner.fit(2);
    run.dispose();
    const [header, ...rows] = await readCsv(path);
    const valid = header!.indexOf('valid.loss');
    expect(rows.map((row) => row[valid])).toEqual(['NA', String(history.epochs[1]!.valid.loss)]);
  });

  it('starts anew at each fit, or appends with append: true (as Keras)', async () => {
    const folder = await temporaryFolder();
    const fresh = join(folder, 'fresh.csv');
    const appended = join(folder, 'appended.csv');
    const run = linearRun([csvLogger(fresh), csvLogger(appended, { append: true, separator: ';' }) as Plugin & { name: string }].map((p, i) => ({ ...p, name: `${p.name}${i}` })));
    await run.learner.fit(2);
    await run.learner.fit(1);
    run.dispose();
    expect((await readCsv(fresh)).length).toBe(1 + 1);
    const rows = parseCsv(await readFile(appended, 'utf8'), ';');
    expect(rows.length).toBe(1 + 3);
    expect(rows.map((row) => row[0])).toEqual(['epoch', '0', '1', '0']);
    expect(rows.map((row) => row[1])).toEqual(['step', '4', '8', '12']);
  });

  it('on resume keeps the rows up to the checkpoint, drops the crashed run\'s later ones and goes on', async () => {
    const folder = await temporaryFolder();
    const path = join(folder, 'run.csv');
    let crashed = '';
    const { history } = await crashAndResume(folder, () => csvLogger(path), { afterEpoch: 1 }, 4, async () => {
      crashed = await readFile(path, 'utf8');
    });
    expect(crashed.trim().split('\n')).toHaveLength(1 + 4);
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    // header + epochs 0 and 1 of the first run (unchanged) + epochs 2 and 3 of the resumed run
    expect(lines.slice(0, 3)).toEqual(crashed.trim().split('\n').slice(0, 3));
    expect(lines).toHaveLength(5);
    expect(lines.slice(1).map((line) => parseCsv(line, ',')[0])).toEqual(expectedRows(history));
  });

  it('drops a row torn by a crash and quotes fields that need it', async () => {
    const path = join(await temporaryFolder(), 'torn.csv');
    await writeFile(path, 'epoch,step,"odd, ""name"""\n0,4,1\n1,8,"2');
    const run = linearRun([csvLogger(path, { append: true })], undefined, { validation: false });
    await run.learner.fit(1);
    run.dispose();
    const text = await readFile(path, 'utf8');
    const [header, ...rows] = parseCsv(text, ',');
    expect(header!.slice(0, 3)).toEqual(['epoch', 'step', 'odd, "name"']);
    expect(text.split('\n')[0]).toBe('epoch,step,"odd, ""name""",seconds,train.loss,learningRate');
    expect(rows.map((row) => row.slice(0, 3))).toEqual([
      ['0', '4', '1'],
      ['0', '4', 'NA'],
    ]);
  });

  it('rejects bad options with the value received', () => {
    expect(() => csvLogger('')).toThrow('path must be a non-empty path (received "")');
    expect(() => csvLogger('a.csv', { separator: '"' })).toThrow('separator must be a non-empty string without quotes or line breaks (received "\\"")');
    expect(() => csvLogger('a.csv', { append: 'yes' as never })).toThrow('append must be a boolean (received "yes")');
  });
});
