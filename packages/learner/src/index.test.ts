import { describe, it, expect } from 'vitest';
import { twice } from './index.js';
describe('twice', () => { it('is 2', () => { expect(twice).toBe(2); }); });
