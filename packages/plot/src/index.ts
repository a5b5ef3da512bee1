export { chart } from './chart.js';
export type { Chart, PngOptions, VegaLiteSpec } from './chart.js';
export { learningCurves } from './learning-curves.js';
export type { LearningCurvesEpoch, LearningCurvesHistory, LearningCurvesOptions } from './learning-curves.js';
export { lineChart } from './line-chart.js';
export type { LineAxis, LineChartOptions, LinePoint } from './line-chart.js';
export { display } from './display.js';
export type { DisplayOptions, DisplayTarget } from './display.js';
