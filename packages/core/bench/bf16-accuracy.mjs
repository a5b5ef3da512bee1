// bf16 against float32 on the quick start: the quick start's recipe (bench/time-to-accuracy.mjs's child: same model,
// He initialisation, Adam with cosine decay, batch 64, 60,000 Fashion-MNIST training images) trained for 5 epochs with
// convkit's float32 convolutions and with its opt-in bf16 ones (CONVKIT_PRECISION=bf16), over several seeds; test
// accuracy (10,000 images) after every epoch. Writes results/bench/bf16-accuracy.json at the repository root.
//   npm run bench:bf16 -w @convkit/core [-- --seeds 42,7,8 --epochs 5 --threads 2]
// Accuracy does not depend on the machine's load (the kernels are deterministic); the seconds do.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
const seeds = option('seeds', '42,7,8').split(',').map(Number);
const epochs = Number(option('epochs', 5));
const threads = Number(option('threads', 2));
const loadStart = loadavg();

const runs = [];
for (const seed of seeds) {
  for (const precision of ['f32', 'bf16']) {
    const child = spawnSync(
      process.execPath,
      [join(here, 'time-to-accuracy.mjs'), '--child', '--threads', String(threads), '--epochs', String(epochs), '--target', '1.01', '--evals-per-epoch', '1', '--seed', String(seed)],
      { encoding: 'utf8', env: { ...process.env, CONVKIT_THREADS: String(threads), CONVKIT_PRECISION: precision } },
    );
    if (child.status !== 0) throw new Error(`quick start child (seed ${seed}, ${precision}) failed:\n${child.stderr}`);
    const done = child.stdout.trim().split('\n').map((line) => JSON.parse(line)).find((message) => message.done === true);
    const wanted = precision === 'bf16' ? 'bf16 convolutions' : undefined;
    if (wanted !== undefined && !done.backend.includes(wanted)) throw new Error(`bf16 did not run (${done.backend}): does this CPU have bf16 instructions?`);
    const last = done.trajectory[done.trajectory.length - 1];
    runs.push({ seed, precision, backend: done.backend, accuracyByEpoch: done.trajectory.map((p) => p.accuracy), finalAccuracy: last.accuracy, trainingSeconds: last.seconds });
    console.error(`seed ${seed} ${precision}: ${(100 * last.accuracy).toFixed(2)}% after ${epochs} epochs (${last.seconds.toFixed(0)} s training)`);
  }
}
const stats = (precision) => {
  const values = runs.filter((r) => r.precision === precision).map((r) => r.finalAccuracy);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, values.length - 1));
  return { mean, sd, values };
};
const f32 = stats('f32');
const bf16 = stats('bf16');
const differences = seeds.map((seed) => runs.find((r) => r.seed === seed && r.precision === 'bf16').finalAccuracy - runs.find((r) => r.seed === seed && r.precision === 'f32').finalAccuracy);
const summary = { f32, bf16, pairedDifference: { mean: differences.reduce((a, b) => a + b, 0) / differences.length, values: differences } };
console.log(`final test accuracy over seeds ${seeds.join(', ')}: f32 ${(100 * f32.mean).toFixed(2)} ± ${(100 * f32.sd).toFixed(2)}%, bf16 ${(100 * bf16.mean).toFixed(2)} ± ${(100 * bf16.sd).toFixed(2)}% (paired bf16 − f32: ${(100 * summary.pairedDifference.mean).toFixed(2)} points)`);
const root = join(here, '..', '..', '..');
mkdirSync(join(root, 'results', 'bench'), { recursive: true });
writeFileSync(
  join(root, 'results', 'bench', 'bf16-accuracy.json'),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, threads, epochs, seeds, loadAverage: { start: loadStart, end: loadavg() }, recipe: 'the quick start (bench/time-to-accuracy.mjs --child): conv16, maxpool, conv32, maxpool, dense64, dense10; Adam peak 2e-3 with cosine decay, batch 64, 60,000 training / 10,000 test images', summary, runs }, null, 2)}\n`,
);
