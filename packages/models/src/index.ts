// @convkit/models: model builders (small ConvNets, modified VGG, VGG-16, a small ResNet, a
// convolutional autoencoder, an MLP), layer groups, freezing, head replacement, discriminative
// learning rates, and loading/saving tfjs-layers models on disk.
export { smallConvNet } from './small-conv-net.js';
export type { Pooling, SmallConvNetOptions } from './small-conv-net.js';
export { modifiedVgg, vgg16, VGG16_BLOCKS } from './vgg.js';
export type { ModifiedVggOptions, Vgg16Options, VggCommonOptions } from './vgg.js';
export { smallResNet } from './small-resnet.js';
export type { SmallResNetOptions } from './small-resnet.js';
export { convAutoencoder } from './conv-autoencoder.js';
export type { ConvAutoencoderOptions } from './conv-autoencoder.js';
export { mlp } from './mlp.js';
export type { MlpOptions } from './mlp.js';
export type { Activation, OutputActivation } from './activation.js';
export { freeze, layerGroups, unfreeze } from './layer-groups.js';
export type { FreezeTarget, LayerGroup, LayerGroupsOptions } from './layer-groups.js';
export { replaceHead } from './replace-head.js';
export type { ReplaceHeadOptions } from './replace-head.js';
export { discriminativeParamGroups } from './discriminative-param-groups.js';
export type { DiscriminativeParamGroupsOptions, ParamGroup } from './discriminative-param-groups.js';
export { diskHandler, loadLayersModelFromDisk, saveLayersModelToDisk } from './disk-io.js';
export { loadKerasModel, modelCacheDir } from './load-keras-model.js';
export type { LoadKerasModelOptions } from './load-keras-model.js';
export { quickstartModel, QUICKSTART_RECIPE } from './quickstart.js';
export type { QuickstartRecipe } from './quickstart.js';
