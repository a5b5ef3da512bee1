// The WebGPU rung: Dawn's Node bindings (the `webgpu` package), a GPU adapter, and tfjs-backend-webgpu on a device
// convkit requests itself, so that it can name the adapter and turn a lost device or a failed allocation into an error.
import * as tf from '@tensorflow/tfjs';
import { firstLine, loadOptionalPackage } from './optional-package.js';
import type { RequireFunction } from './optional-package.js';

/** What Dawn says about the adapter convkit would run on, and the two limits that bound a tensor's size. */
export interface WebGpuAdapterInfo {
  /** `'nvidia'`, `'amd'`, `'intel'`, `'mesa'`, `'google'` (SwiftShader), or `''` when the driver says nothing. */
  vendor: string;
  /** `'software'` for lavapipe/SwiftShader, else the GPU family (`'ampere'`, `'rdna-3'`, …) or `''`. */
  architecture: string;
  device: string;
  /** The driver's description, e.g. `'llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1'`. */
  description: string;
  /** A CPU rasteriser (llvmpipe/lavapipe, SwiftShader) or a fallback adapter: never picked by `'auto'` over wasm. */
  software: boolean;
  /** Bytes in one GPU buffer (one tensor) at most. */
  maxBufferSize: number;
  /** Bytes one shader binding can see at most. */
  maxStorageBufferBindingSize: number;
}

/** How looking for WebGPU went: an adapter, or why there is none. */
export type WebGpuProbe =
  | { status: 'ok'; adapter: WebGpuAdapterInfo }
  | { status: 'not-installed' | 'failed' | 'no-adapter'; detail: string };

/** The few parts of Dawn's objects convkit uses (the full types are in @webgpu/types). */
interface Adapter {
  info: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean };
  limits: Record<string, number>;
  features: { has(feature: string): boolean };
  requestDevice(descriptor?: object): Promise<Device>;
}
interface Device {
  lost: Promise<{ reason: string; message: string }>;
  addEventListener(type: 'uncapturederror', listener: (event: { error: { message: string; constructor: { name: string } } }) => void): void;
}

const SOFTWARE_DEVICE = /llvmpipe|lavapipe|swiftshader|softpipe|microsoft basic render/i;
const MiB = 1024 * 1024;

/** Whether an adapter is a CPU rasteriser, from what Dawn reports (`architecture: 'software'`, fallback, the name). */
export function isSoftwareAdapter(info: { architecture: string; device: string; description: string; isFallbackAdapter?: boolean }): boolean {
  return info.architecture === 'software' || info.isFallbackAdapter === true || SOFTWARE_DEVICE.test(`${info.device} ${info.description}`);
}

/** One line naming an adapter: `mesa llvmpipe-llvm-15-0-6-256-bits (software; llvmpipe: Mesa 25.0.7 …; max buffer 4096 MiB, max storage binding 128 MiB)`. */
export function describeAdapter(adapter: WebGpuAdapterInfo): string {
  const name = [adapter.vendor, adapter.device.replace(/-+$/, '')].filter((part) => part !== '').join(' ') || 'unnamed adapter';
  const kind = adapter.architecture === '' ? 'architecture not reported' : adapter.architecture;
  const driver = adapter.description === '' ? '' : `; ${adapter.description}`;
  const limits = `max buffer ${Math.floor(adapter.maxBufferSize / MiB)} MiB, max storage binding ${Math.floor(adapter.maxStorageBufferBindingSize / MiB)} MiB`;
  return `${name} (${kind}${driver}; ${limits})`;
}

function setUpWebGpuGlobals(webgpuModule: unknown): void {
  const { create, globals } = webgpuModule as { create: (flags: string[]) => unknown; globals: object };
  Object.assign(globalThis, globals);
  const scope = globalThis as { navigator?: { gpu?: unknown } };
  if (scope.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  }
  if (scope.navigator !== undefined && scope.navigator.gpu === undefined) {
    Object.defineProperty(scope.navigator, 'gpu', { value: create([]), configurable: true });
  }
}

/** The device's state, on the global object like tfjs's engine, so every copy of this module sees the same device. */
interface DeviceState {
  failure?: Error;
  lost: boolean;
}
const scope = globalThis as { [key: symbol]: DeviceState | undefined };
const device: DeviceState = (scope[Symbol.for('convkit.webgpu-device')] ??= { lost: false });

/** Records the device's first failure (lost, out of memory, validation) as an Error naming the backend. */
function watchDevice(watched: Device): void {
  device.failure = undefined;
  device.lost = false;
  void watched.lost.then((info) => {
    device.lost = true;
    device.failure ??= new Error(`webgpu backend: the GPU device was lost (${info.reason}: ${firstLine(info.message)})`);
  });
  watched.addEventListener('uncapturederror', (event) => {
    const kind = event.error.constructor.name === 'GPUOutOfMemoryError' ? 'out of GPU memory' : event.error.constructor.name;
    device.failure ??= new Error(`webgpu backend: ${kind}: ${firstLine(event.error.message)}`);
  });
}

/**
 * The first failure of the WebGPU device since the webgpu backend started: the device was lost (driver reset,
 * GPU removed) or Dawn reported an uncaptured error (out of memory, a buffer over `maxBufferSize`). `undefined` when
 * there was none or the backend is not webgpu.
 *
 * Why: WebGPU reports these asynchronously; tfjs keeps running on a dead device and returns zeros or hangs. A
 * training loop calls {@link assertBackendHealthy} after each step to stop with the cause instead.
 */
export function backendDeviceError(): Error | undefined {
  return onWebGpu() ? device.failure : undefined;
}

/** Whether tfjs runs on webgpu now: a device failure says nothing about another backend's tensors. */
function onWebGpu(): boolean {
  return tf.engine().backendName === 'webgpu';
}

/**
 * Throws the device failure {@link backendDeviceError} recorded (none while tfjs runs on another backend), with `where` (e.g. `'step 12, input [64, 28, 28, 1]'`)
 * added to the message; a no-op when there was none. An allocation or validation error is thrown once and then
 * cleared; a lost device keeps throwing until {@link initBackend} puts webgpu on a new device. Cheap: reads a
 * variable, syncs nothing.
 *
 * @example
 * ```ts
 * await optimizer.minimize(loss); assertBackendHealthy(`step ${step}`);
 * ```
 */
export function assertBackendHealthy(where?: string): void {
  const failure = backendDeviceError();
  if (failure === undefined) return;
  // A refused allocation is reported once (a smaller batch may work); a lost device stays lost until replaced.
  if (!device.lost) device.failure = undefined;
  const error = new Error(where === undefined ? failure.message : `${failure.message} (at ${where})`);
  error.cause = failure;
  throw error;
}

const adapterUsed = new WeakSet<Adapter>();

function requestAdapter(): Promise<Adapter | null> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(options?: object): Promise<Adapter | null> } } }).navigator?.gpu;
  if (gpu === undefined) throw new Error('navigator.gpu is not set: load the webgpu package first');
  return gpu.requestAdapter({ powerPreference: 'high-performance' });
}

/**
 * Registers tfjs's webgpu backend on `adapter` with convkit's device watch, below cpu so tfjs never picks it
 * implicitly. A running backend is kept, unless its device was lost: then it is replaced by one on a new device.
 */
function registerFactory(first: Adapter, backendModule: unknown): void {
  const registry = tf.engine().registry as Record<string, unknown>;
  if (registry['webgpu'] !== undefined && !device.lost) return;
  const { WebGPUBackend } = backendModule as { WebGPUBackend: new (device: Device, info: unknown) => tf.KernelBackend };
  if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
  let firstUse = !adapterUsed.has(first);
  adapterUsed.add(first);
  tf.registerBackend(
    'webgpu',
    async () => {
      // An adapter gives one device: after a lost device, ask Dawn for the adapter again.
      const adapter = firstUse ? first : await requestAdapter();
      firstUse = false;
      if (adapter === null) throw new Error(NO_ADAPTER);
      const limits = adapter.limits;
      const device = await adapter.requestDevice({
        requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
        requiredLimits: Object.fromEntries(
          [
            'maxComputeWorkgroupStorageSize',
            'maxComputeWorkgroupsPerDimension',
            'maxStorageBufferBindingSize',
            'maxBufferSize',
            'maxComputeWorkgroupSizeX',
            'maxComputeInvocationsPerWorkgroup',
          ].map((name) => [name, limits[name]]),
        ),
      });
      watchDevice(device);
      return new WebGPUBackend(device, adapter.info);
    },
    0,
  );
}

function adapterInfo(adapter: Adapter): WebGpuAdapterInfo {
  const { vendor, architecture, device, description } = adapter.info;
  return {
    vendor,
    architecture,
    device,
    description,
    software: isSoftwareAdapter(adapter.info),
    maxBufferSize: adapter.limits['maxBufferSize'] ?? 0,
    maxStorageBufferBindingSize: adapter.limits['maxStorageBufferBindingSize'] ?? 0,
  };
}

/** Dawn reports no adapter when it finds no Vulkan driver it accepts (Debian 12's own Mesa 22.3 is refused). */
export const NO_ADAPTER: string =
  "no WebGPU adapter: Dawn found no Vulkan driver it accepts (install NVIDIA's driver with its Vulkan ICD, or Mesa's " +
  'lavapipe from Debian bookworm-backports: apt-get install -t bookworm-backports mesa-vulkan-drivers)';

type Found = { probe: WebGpuProbe; adapter?: Adapter; backendModule?: unknown };
let cached: Promise<Found> | undefined;

async function probe(requireFunction: RequireFunction | undefined): Promise<Found> {
  const found = await find(requireFunction);
  if (found.adapter !== undefined) registerFactory(found.adapter, found.backendModule);
  return found;
}

async function find(requireFunction: RequireFunction | undefined): Promise<Found> {
  const dawn = loadOptionalPackage('webgpu', requireFunction);
  const backend = loadOptionalPackage('@tensorflow/tfjs-backend-webgpu', requireFunction);
  if (dawn.status === 'not-installed' || backend.status === 'not-installed') return { probe: { status: 'not-installed', detail: 'not installed' } };
  if (dawn.status !== 'ok') return { probe: { status: 'failed', detail: `webgpu ${dawn.detail}` } };
  if (backend.status !== 'ok') return { probe: { status: 'failed', detail: `@tensorflow/tfjs-backend-webgpu ${backend.detail}` } };
  let adapter: Adapter | null;
  try {
    setUpWebGpuGlobals(dawn.module);
    adapter = await requestAdapter();
  } catch (error) {
    return { probe: { status: 'failed', detail: `requestAdapter failed: ${firstLine(error)}` } };
  }
  if (adapter === null) return { probe: { status: 'no-adapter', detail: NO_ADAPTER } };
  return { probe: { status: 'ok', adapter: adapterInfo(adapter) }, adapter, backendModule: backend.module };
}

/**
 * Loads Dawn and tfjs-backend-webgpu when installed, asks for a high-performance adapter and registers tfjs's
 * `'webgpu'` backend on it (at priority 0, so tfjs never picks it implicitly); a backend whose device was lost is
 * replaced by one on a new device. Does not switch backends. With the default `require`, the adapter found is kept
 * for the module. Never throws.
 */
export async function probeWebGpu(requireFunction?: RequireFunction): Promise<WebGpuProbe> {
  if (requireFunction !== undefined) return (await probe(requireFunction)).probe;
  cached ??= find(undefined);
  const found = await cached;
  if (found.adapter !== undefined) registerFactory(found.adapter, found.backendModule);
  return found.probe;
}
