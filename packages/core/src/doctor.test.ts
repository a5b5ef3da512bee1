import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { CUDA_LIBRARIES, doctor, formatDoctorReport } from './doctor.js';
import type { RunCommand } from './doctor.js';

const dir = mkdtempSync(join(tmpdir(), 'convkit-doctor-'));
const present = ['libcudart.so.11.0', 'libcublas.so.11', 'libcublasLt.so.11', 'libcufft.so.10'];
for (const file of present) writeFileSync(join(dir, file), '');
writeFileSync(join(dir, 'libcudnn.so.9'), ''); // the wrong major version must not count

const ldconfigOutput = [
  '1234 libs found in cache `/etc/ld.so.cache\'',
  '\tlibcusparse.so.11 (libc6,x86-64) => /opt/cuda/lib64/libcusparse.so.11',
  '\tlibcudnn.so.9 (libc6,x86-64) => /opt/cudnn/libcudnn.so.9',
].join('\n');

const noCommands: RunCommand = () => undefined;

describe('doctor', () => {
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await tf.setBackend('cpu');
  });

  it('lists the CUDA libraries found in LD_LIBRARY_PATH and missing, by file name', async () => {
    const report = await doctor({ env: { LD_LIBRARY_PATH: `/nonexistent:${dir}` }, searchDirs: [], runCommand: noCommands, probeBackend: false });
    expect(report.cuda.libraries.filter((l) => l.found).map((l) => [l.file, l.path])).toEqual(present.map((file) => [file, join(dir, file)]));
    expect(report.cuda.missing).toEqual(['libcurand.so.10', 'libcusolver.so.11', 'libcusparse.so.11', 'libcudnn.so.8']);
    expect(report.cuda.searched).toEqual(['/nonexistent', dir]);
    expect(report.driver.found).toBe(false);
  });

  it('also finds libraries through ldconfig -p and reports nvidia-smi output', async () => {
    const runCommand: RunCommand = (command) =>
      command === 'ldconfig' ? ldconfigOutput : command === 'nvidia-smi' ? 'NVIDIA H100 80GB HBM3, 550.54.15\n' : undefined;
    const report = await doctor({ env: {}, searchDirs: [dir], runCommand, fileExists: (path) => path.startsWith(dir) && present.some((f) => path.endsWith(f)), probeBackend: false });
    expect(report.cuda.libraries.find((l) => l.file === 'libcusparse.so.11')).toEqual({ file: 'libcusparse.so.11', found: true, path: '/opt/cuda/lib64/libcusparse.so.11' });
    expect(report.cuda.missing).toEqual(['libcurand.so.10', 'libcusolver.so.11', 'libcudnn.so.8']);
    expect(report.cuda.searched).toEqual([dir, 'ldconfig -p']);
    expect(report.driver).toEqual({ found: true, detail: 'nvidia-smi: NVIDIA H100 80GB HBM3, 550.54.15' });
  });

  it('reports every backend with its install state and what initBackend will pick', async () => {
    const report = await doctor({ env: {}, searchDirs: [], runCommand: noCommands });
    expect(report.backends.map((b) => [b.name, b.installed, b.load])).toEqual([
      ['node-gpu', false, 'not-tried'],
      ['node', false, 'not-tried'],
      ['webgpu', true, 'ok'],
      ['wasm', true, 'ok'],
      ['cpu', true, 'ok'],
    ]);
    // No hardware adapter here (lavapipe at most, which 'auto' passes over), so wasm runs, with oneDNN on top.
    expect(report.webgpu.adapter?.software ?? true).toBe(true);
    expect(report.willRun).toBe('wasm');
    expect(report.kernels?.backend).toBe('wasm');
    expect(report.kernels?.summary).toBe('oneDNN 20, convkit-wasm 10, convkit-native 3, stock rest');
    expect(report.kernels?.assignments.find((a) => a.kernel === 'BatchMatMul')).toEqual({
      backend: 'wasm',
      kernel: 'BatchMatMul',
      servedBy: 'native',
      fallbacks: ['wasm-matmul', 'stock'],
    });
    expect(report.cuda.missing).toEqual([...CUDA_LIBRARIES]);
    const text = formatDoctorReport(report);
    expect(text).toContain('  node-gpu not installed; install: npm install @tensorflow/tfjs-node-gpu@4.22.0');
    expect(text).toContain('  wasm     installed, loads');
    expect(text).toContain(`  missing: ${CUDA_LIBRARIES.join(', ')}`);
    expect(text).toContain('\nwill run: wasm (');
    expect(text).toContain('\nkernels on wasm: oneDNN 20, convkit-wasm 10, convkit-native 3, stock rest\n');
    expect(text).toContain('  provider native (oneDNN, priority 200): active, serves 20 of 20');
    expect(text).toMatch(/\n {2}BatchMatMul +native → wasm-matmul → stock\n/);
    expect(text).toContain(`WebGPU adapter: ${report.webgpu.detail}`);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('lists a declined provider with its reason', async () => {
    const report = await doctor({ env: { CONVKIT_NATIVE: '0' }, searchDirs: [], runCommand: noCommands });
    expect(report.kernels?.providers.find((p) => p.name === 'native')).toMatchObject({ status: 'declined', reason: 'native kernels off', serving: 0 });
    expect(report.kernels?.summary).toBe('convkit-wasm 17, stock rest');
    expect(formatDoctorReport(report)).toContain('  provider native (oneDNN, priority 200): declined: native kernels off');
  });

  it('says what fails when CONVKIT_BACKEND forces a backend that is missing', async () => {
    const report = await doctor({ env: { CONVKIT_BACKEND: 'node' }, searchDirs: [], runCommand: noCommands });
    expect(report.willRun).toBeUndefined();
    expect(report.willRunDetail).toContain("initBackend failed: backend 'node' was requested (CONVKIT_BACKEND=node)");
  });
});
