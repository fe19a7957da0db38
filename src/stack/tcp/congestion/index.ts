/** Congestion controllers selectable per connection through ctl. */
import { Cubic } from './cubic.js';
import { NewReno } from './newreno.js';
import type { CongestionControl, CongestionName } from './types.js';

export type { CongestionControl, CongestionName } from './types.js';
export { Cubic } from './cubic.js';
export { NewReno } from './newreno.js';

export function newCongestion(name: CongestionName, smss: number): CongestionControl {
  return name === 'cubic' ? new Cubic(smss) : new NewReno(smss);
}
