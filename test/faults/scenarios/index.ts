import type { Scenario } from '../lib/scenario.js';
import { baseline } from './01-baseline.js';

/** Every scenario, in the order the suite runs them (serially). */
export const scenarios: Scenario[] = [baseline];
