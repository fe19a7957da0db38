/**
 * The one shape of a served /net, whatever carries it: host sockets
 * (host/), our own stack (stack/), another server's /net (over/), or a
 * topology of stacks. Each protocol inside it is a netfs Proto (the
 * per-protocol contract, netfs/conv.ts); this is the root-and-close shape
 * the server and the command line see.
 */
import type { Node } from '../ninep/node.js';

export interface NetBackend {
  /** The tree for an attach name, or null when the name is unknown. */
  root(aname: string, uname: string): Node | null;
  /** What carries this /net, for the log ("host sockets", "our stack on tap9"...). */
  readonly what: string;
  /** Close everything the backend holds; conversations hang up. */
  close(): Promise<void>;
}

/** Attach names that select a single-tree backend's /net. */
export const DEFAULT_ANAMES: readonly string[] = ['', '/', 'net'];

/** The root function of a backend serving one tree under the default attach names. */
export function singleRoot(root: Node): NetBackend['root'] {
  return (aname) => (DEFAULT_ANAMES.includes(aname) ? root : null);
}
