/**
 * The root of a /net tree: the protocol directories, then the other files
 * (devip's order: protocols first), assembled from parts.
 */
import type { Node } from '../ninep/node.js';
import { Q, ipQid } from './qid.js';
import { SynthDir } from '../ninep/synth.js';

export function netRoot(eve: string, parts: (user: string) => Node[]): SynthDir {
  return new SynthDir(ipQid(Q.topdir), () => ({ name: '/', uid: eve, gid: eve, mode: 0o555 }), (user) => parts(user));
}
