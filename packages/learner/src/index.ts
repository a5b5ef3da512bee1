import { placeholder } from '@convkit/core';
export const twice: number = placeholder * 2;
