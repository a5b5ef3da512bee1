/** The backends convkit can run on, fastest first (the order {@link initBackend} tries them in). */
export type BackendName = 'node-gpu' | 'node' | 'webgpu' | 'wasm' | 'cpu';

/** Every {@link BackendName}, in ladder order: node-gpu → node → webgpu → wasm → cpu. */
export const BACKEND_NAMES: readonly BackendName[] = ['node-gpu', 'node', 'webgpu', 'wasm', 'cpu'];

/** What each backend needs: the npm packages to load, the tfjs backend it registers, how to install it. */
export interface BackendRequirement {
  readonly name: BackendName;
  readonly packages: readonly string[];
  readonly tfBackend: string;
  readonly install: string;
  readonly note: string;
}

export const BACKEND_REQUIREMENTS: Readonly<Record<BackendName, BackendRequirement>> = {
  'node-gpu': {
    name: 'node-gpu',
    packages: ['@tensorflow/tfjs-node-gpu'],
    tfBackend: 'tensorflow',
    install: 'npm install @tensorflow/tfjs-node-gpu@4.22.0',
    note: 'needs Linux x64, an NVIDIA driver, CUDA 11.2 and cuDNN 8.1 (libtensorflow 2.9.1); run `npx convkit doctor` to check',
  },
  node: {
    name: 'node',
    packages: ['@tensorflow/tfjs-node'],
    tfBackend: 'tensorflow',
    install: 'npm install @tensorflow/tfjs-node@4.22.0',
    note: 'downloads libtensorflow 2.9.1 (CPU) at install time',
  },
  webgpu: {
    name: 'webgpu',
    packages: ['@tensorflow/tfjs-backend-webgpu', 'webgpu'],
    tfBackend: 'webgpu',
    install: 'npm install @tensorflow/tfjs-backend-webgpu@4.22.0 webgpu',
    note: 'the `webgpu` package provides Dawn bindings for Node',
  },
  wasm: {
    name: 'wasm',
    packages: ['@tensorflow/tfjs-backend-wasm'],
    tfBackend: 'wasm',
    install: 'npm install @tensorflow/tfjs-backend-wasm@4.22.0',
    note: 'a dependency of @convkit/core; convkit adds fast convolution gradient kernels',
  },
  cpu: {
    name: 'cpu',
    packages: ['@tensorflow/tfjs'],
    tfBackend: 'cpu',
    install: 'npm install @tensorflow/tfjs@4.22.0',
    note: 'pure JavaScript; always available, slowest',
  },
};

/**
 * Parses a backend name from an option or `CONVKIT_BACKEND`; `source` names where it came from in
 * the error. Empty or missing means `'auto'`.
 */
export function parseBackendName(value: string | undefined, source: string): BackendName | 'auto' {
  if (value === undefined || value.trim() === '') return 'auto';
  const name = value.trim();
  if (name === 'auto' || (BACKEND_NAMES as readonly string[]).includes(name)) return name as BackendName | 'auto';
  throw new Error(
    `${source} must be one of auto, ${BACKEND_NAMES.join(', ')} (received ${JSON.stringify(value)})`,
  );
}
