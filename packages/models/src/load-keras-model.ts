import type * as tf from '@tensorflow/tfjs';
import { nodeFileSystem } from '@convkit/io';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLayersModelFromDisk, replaceDirectoryAtomic } from './disk-io.js';
import { show } from './validate.js';

const MODEL_JSON = 'model.json';
const SOURCE_JSON = 'source.json';

/** Options of {@link loadKerasModel} and {@link modelCacheDir}. */
export interface LoadKerasModelOptions {
  /**
   * The cache root; a downloaded model lives in `<cacheDir>/models/<sha256 of its model.json URL, 16 hex digits>`.
   * Defaults to `$XDG_CACHE_HOME/convkit`, else `~/.cache/convkit` (the root `@convkit/data` uses).
   */
  cacheDir?: string;
  /** Download again even when the model is cached (the cached copy is replaced atomically). Defaults to false. */
  refresh?: boolean;
  /** The `fetch` used for http(s) URLs (a proxy-aware one, or a stub in tests). Defaults to `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
}

/** The `model.json` URL of a model URL: a URL ending in `.json` as is, any other taken as its folder. */
function modelJsonUrl(url: URL): URL {
  if (url.pathname.endsWith('.json')) return url;
  const folder = new URL(url.href);
  if (!folder.pathname.endsWith('/')) folder.pathname += '/';
  return new URL(MODEL_JSON, folder);
}

/**
 * The folder where {@link loadKerasModel} caches the model at `url` (an http(s) URL of a `model.json` or of its
 * folder): `<cacheDir>/models/<first 16 hex digits of the sha256 of the model.json URL>`.
 *
 * @example
 * ```ts
 * import { modelCacheDir } from '@convkit/models';
 * modelCacheDir('https://example.com/vgg16/model.json'); // e.g. '/home/me/.cache/convkit/models/5c1f…'
 * ```
 */
export function modelCacheDir(url: string | URL, options: Pick<LoadKerasModelOptions, 'cacheDir'> = {}): string {
  const parsed = parseUrl(url);
  const env = process.env;
  const root = options.cacheDir ?? join(env['XDG_CACHE_HOME'] || join(env['HOME'] || homedir(), '.cache'), 'convkit');
  const key = createHash('sha256').update(modelJsonUrl(parsed).href).digest('hex').slice(0, 16);
  return resolve(root, 'models', key);
}

function parseUrl(url: string | URL): URL {
  try {
    return url instanceof URL ? url : new URL(url);
  } catch {
    throw new Error(`url must be an absolute URL such as https://host/model.json (received ${show(String(url))})`);
  }
}

/**
 * Loads a Keras or tfjs-layers model — `model.json` (topology and weights manifest) plus its binary weight shards,
 * as `tensorflowjs_converter --input_format keras` (`tfjs.converters.save_keras_model`) writes them for Keras
 * ImageNet models — from a local folder, a `file://` URL, or an `http(s)://` URL.
 *
 * Why: a pretrained backbone is usually published as such a folder; this gets it onto disk once and then loads it
 * like {@link loadLayersModelFromDisk}, with the same checks (missing shard, wrong sizes or shapes, named).
 *
 * - A path or `file://` URL names the folder or its `model.json`; it is loaded in place.
 * - An `http(s)://` URL names the `model.json` (or its folder). The first load downloads `model.json` and every
 *   shard its manifest lists (relative to it) into {@link modelCacheDir}, atomically (`@convkit/io`: nothing is
 *   left half-written; a failed download leaves no cache entry) with a `source.json` recording the URL and date;
 *   later loads read the cache without touching the network (`refresh: true` downloads again).
 *
 * The training configuration and optimizer weights are not restored. Returns a new, uncompiled `tf.LayersModel`;
 * the caller disposes it.
 *
 * @param source - A folder, a `model.json` path, or a `file:`, `http:` or `https:` URL.
 * @param options - `cacheDir` (defaults to `~/.cache/convkit`), `refresh` (false), `fetch` (`globalThis.fetch`).
 *
 * @example
 * ```ts
 * import { loadKerasModel, replaceHead } from '@convkit/models';
 * const backbone = await loadKerasModel('https://example.com/mobilenet/model.json');
 * const model = replaceHead(backbone, { numClasses: 5 });
 * ```
 */
export async function loadKerasModel(source: string | URL, options: LoadKerasModelOptions = {}): Promise<tf.LayersModel> {
  if (!(source instanceof URL) && (typeof source !== 'string' || source === '')) {
    throw new Error(`source must be a folder, a model.json path or a URL (received ${show(source)})`);
  }
  const url = source instanceof URL ? source : /^[a-z][a-z0-9+.-]*:\/\//i.test(source) ? parseUrl(source) : undefined;
  if (url === undefined) return loadLayersModelFromDisk(source as string);
  if (url.protocol === 'file:') return loadLayersModelFromDisk(fileURLToPath(url));
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`source must be a path or a file:, http: or https: URL (received the ${url.protocol} URL ${url.href})`);
  }
  const folder = modelCacheDir(url, options);
  if (options.refresh === true || !(await nodeFileSystem.exists(join(folder, MODEL_JSON)))) {
    await download(modelJsonUrl(url), folder, options.fetch ?? globalThis.fetch);
  }
  try {
    return await loadLayersModelFromDisk(folder);
  } catch (error) {
    throw new Error(`${(error as Error).message} (cached from ${url.href}; load with refresh: true to download it again)`);
  }
}

async function fetchBytes(fetcher: typeof globalThis.fetch, url: URL): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetcher(url);
  } catch (error) {
    throw new Error(`cannot download ${url.href}: ${(error as Error).message}`);
  }
  if (!response.ok) throw new Error(`cannot download ${url.href}: HTTP ${response.status} ${response.statusText}`.trim());
  return new Uint8Array(await response.arrayBuffer());
}

/** Downloads `model.json` and its shards, then writes them into `folder` at once. */
async function download(jsonUrl: URL, folder: string, fetcher: typeof globalThis.fetch): Promise<void> {
  const jsonBytes = await fetchBytes(fetcher, jsonUrl);
  let modelJson: { modelTopology?: unknown; weightsManifest?: unknown };
  try {
    modelJson = JSON.parse(new TextDecoder().decode(jsonBytes)) as typeof modelJson;
  } catch (error) {
    throw new Error(`${jsonUrl.href} is not valid JSON: ${(error as Error).message}`);
  }
  if (modelJson === null || typeof modelJson !== 'object' || modelJson.modelTopology == null) {
    throw new Error(`${jsonUrl.href} has no modelTopology (is it a Keras/tfjs-layers model.json?)`);
  }
  const manifest = modelJson.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw new Error(`${jsonUrl.href} weightsManifest must be an array (received ${show(manifest)})`);
  const files: Record<string, Uint8Array | string> = { [MODEL_JSON]: jsonBytes };
  for (const [groupIndex, group] of (manifest as { paths?: unknown }[]).entries()) {
    if (!Array.isArray(group?.paths)) {
      throw new Error(`${jsonUrl.href} weightsManifest[${groupIndex}].paths must be an array of file names (received ${show(group?.paths)})`);
    }
    for (const path of group.paths as unknown[]) {
      const name = typeof path === 'string' ? path.replace(/^\.\//, '') : '';
      if (name === '' || name.includes('/') || name.includes('\\') || name === '..' || name === MODEL_JSON || name === SOURCE_JSON) {
        throw new Error(
          `${jsonUrl.href} weightsManifest[${groupIndex}].paths holds ${show(path)}: expected a shard file name beside model.json ` +
            '(such as group1-shard1of2.bin)'
        );
      }
      files[name] ??= await fetchBytes(fetcher, new URL(name, jsonUrl));
    }
  }
  files[SOURCE_JSON] = JSON.stringify({ url: jsonUrl.href, downloaded: new Date().toISOString() });
  await replaceDirectoryAtomic(folder, files);
}
