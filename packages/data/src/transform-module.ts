import { pathToFileURL } from 'node:url';
import type { BatchTransform } from './batch-transform.js';

/**
 * Where a {@link DataLoader}'s worker threads (and, with `workers: 0`, the loader itself) find the batch transform: a
 * module, and the export in it that builds the transform. A function cannot be sent to a worker, so each worker
 * imports the module and calls `module[export](options)` once, which must return a {@link BatchTransform}
 * (`(x, rng) => x`, e.g. `batchTransform(compose([batchFlip(), batchAffine()]))` of `@convkit/augment`).
 */
export interface TransformModule {
  /**
   * The module's URL or absolute path, e.g. `new URL('./augmentation.js', import.meta.url)`. A relative path or a bare
   * package name would resolve against this package, not the caller, so they are refused.
   */
  url: string | URL;
  /** The name of the factory export. Defaults to `'default'`. */
  export?: string;
  /** The argument of the factory; it travels to each worker by structured clone (plain data). Defaults to none. */
  options?: unknown;
}

/** The module's URL as a string, checked: a `file:`/`data:` URL or an absolute path. */
export function transformModuleUrl(spec: TransformModule): string {
  const url = spec?.url;
  const text = url instanceof URL ? url.href : url;
  if (typeof text !== 'string' || !(/^(file|data):/.test(text) || text.startsWith('/'))) {
    throw new Error(
      `transformModule.url must be a file: URL or an absolute path, e.g. new URL('./augmentation.js', import.meta.url) ` +
        `(received ${String(text)})`,
    );
  }
  if (spec.export !== undefined && (typeof spec.export !== 'string' || spec.export === '')) {
    throw new Error(`transformModule.export must be the name of an export (received ${String(spec.export)})`);
  }
  return text.startsWith('/') ? pathToFileURL(text).href : text;
}

/**
 * Imports `spec`'s module and builds its transform. Rejects with an error naming the module and the export when the
 * import fails, the export is not a function, or the factory does not return one.
 */
export async function loadTransformModule(spec: TransformModule): Promise<BatchTransform> {
  const url = transformModuleUrl(spec);
  const name = spec.export ?? 'default';
  let module: Record<string, unknown>;
  try {
    module = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`transformModule ${url} could not be imported: ${(error as Error).message}`, { cause: error });
  }
  const factory = module[name];
  if (typeof factory !== 'function') {
    throw new Error(`transformModule ${url} must export a function '${name}' that builds the transform (received ${typeof factory})`);
  }
  const transform: unknown = await (factory as (options: unknown) => unknown)(spec.options);
  if (typeof transform !== 'function') {
    throw new Error(`transformModule ${url}: ${name}(options) must return a transform (x, rng) => x (received ${typeof transform})`);
  }
  return transform as BatchTransform;
}
