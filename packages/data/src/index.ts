export { parseIdx, encodeIdx, readIdxFile, isGzip } from './idx.js';
export type { IdxArray, IdxData } from './idx.js';
export { loadIdxImagesAndLabels } from './idx-dataset.js';
export type { LoadIdxImagesAndLabelsOptions } from './idx-dataset.js';
export { createImageDataset, subset, classCounts, isInMemory } from './dataset.js';
export type { Dataset, ImageDataset, ImageDatasetInit, SubsetOf } from './dataset.js';
export { streamImageFolder } from './stream-image-folder.js';
export type { StreamImageFolderOptions, StreamingImageDataset } from './stream-image-folder.js';
export { downloadFile, md5Hex } from './download.js';
export type { DownloadFileOptions } from './download.js';
export { loadIdxDataset, datasetCacheDir } from './load-idx-dataset.js';
export type { IdxDatasetFiles, IdxSourceOptions, LoadIdxDatasetOptions } from './load-idx-dataset.js';
export {
  loadFashionMnist,
  FASHION_MNIST_CLASS_NAMES,
  FASHION_MNIST_BASE_URL,
  FASHION_MNIST_FILES,
  FASHION_MNIST_CHECKSUMS,
} from './fashion-mnist.js';
export type { LoadFashionMnistOptions } from './fashion-mnist.js';
export { shuffleIndices, trainValidSplit } from './split.js';
export type { TrainValidSplitOptions, TrainValidSplit } from './split.js';
export { createBatchEncoder, toTensors } from './batch-encoder.js';
export type { BatchEncoder, BatchEncodingOptions, ImageBatch, LabelEncoding } from './batch-encoder.js';
export { DataLoader } from './data-loader.js';
export type { DataLoaderOptions, DataLoaderState } from './data-loader.js';
export type { BatchTransform } from './batch-transform.js';
export type { TransformModule } from './transform-module.js';
export type { IndexSampler } from './index-sampler.js';
export { loadMnist, MNIST_CLASS_NAMES, MNIST_BASE_URL, MNIST_FILES, MNIST_CHECKSUMS } from './mnist.js';
export type { LoadMnistOptions } from './mnist.js';
export { loadCifar10, CIFAR10_CLASS_NAMES, CIFAR10_URL, CIFAR10_MD5, CIFAR10_FILES } from './cifar10.js';
export type { LoadCifar10Options } from './cifar10.js';
export { loadImageFolder, IMAGE_EXTENSIONS } from './image-folder.js';
export type { LoadImageFolderOptions, ImageFolderDataset } from './image-folder.js';
export { writeImageFolder } from './write-image-folder.js';
export { stratifiedSplit } from './stratified-split.js';
export type { StratifiedSplitOptions, StratifiedSplit } from './stratified-split.js';
export { classSubset } from './class-subset.js';
export type { ClassSubsetOptions } from './class-subset.js';
export { markerImages } from './marker-images.js';
export type { MarkerImagesOptions } from './marker-images.js';
export { circleImages } from './circle-images.js';
export type { CircleImagesOptions } from './circle-images.js';
export { knifeFrames } from './knife-frames.js';
export type { KnifeFramesOptions, KnifeFramesDataset } from './knife-frames.js';
