// Deprecated: the quick start model now lives in @convkit/models (quickstartModel, QUICKSTART_RECIPE); kept one release.
export { QUICKSTART_RECIPE as QUICKSTART, quickstartModel } from '@convkit/models';
