// A topology stack in simulated time of its own ("clock": "manual", ctl
// `stack NAME manual`): it serves /net/clock, frozen until told, while the
// other stacks keep the topology's clock and serve none.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { SeededRng } from '../../src/lib/rng.js';
import type { Node, OpenFile } from '../../src/ninep/node.js';
import { OREAD, ORDWR } from '../../src/ninep/types.js';
import { buildTopology, checkTopology } from '../../src/topo/topofile.js';
import { topoCtl } from '../../src/topo/ctlfs.js';

async function open(root: Node, path: string, mode = OREAD): Promise<OpenFile> {
  let n: Node | null = root;
  for (const name of path.split('/').filter((x) => x)) n = await n!.walk!(name, 'eve');
  if (!n) throw new Error(`${path}: not found`);
  return n.open!({ mode, user: 'eve', signal: new AbortController().signal });
}

async function text(root: Node, path: string): Promise<string> {
  const f = await open(root, path);
  return Buffer.from(await f.read!(0n, 4096, new AbortController().signal)).toString();
}

describe('topology clocks', () => {
  it('a manual stack has /net/clock of its own; the others have none', async () => {
    const shared = new ManualClock(5000);
    const t = await buildTopology({
      stacks: { sim: { clock: 'manual', ifaces: [{ hub: 'lan', ip: '10.5.0.1/24' }] }, wall: { ifaces: [{ hub: 'lan', ip: '10.5.0.2/24' }] } },
      hubs: { lan: {} },
    }, { eve: 'eve', clock: shared, rng: new SeededRng(1) });
    try {
      const sim = t.root('sim')!;
      expect(await text(sim, '/clock')).toBe('0.000000 frozen\n');
      const clk = await open(sim, '/clock', ORDWR);
      await clk.write!(0n, Buffer.from('advance 1.5s'), new AbortController().signal);
      expect(await text(sim, '/clock')).toBe('1.500000 frozen\n');
      expect(shared.now()).toBe(5000);
      await expect(open(t.root('wall')!, '/clock')).rejects.toThrow('/clock: not found');
      await topoCtl(t, ['stack', 'later', 'manual']);
      expect(await text(t.root('later')!, '/clock')).toBe('0.000000 frozen\n');
      expect(() => checkTopology({ stacks: { x: { clock: 'slow' } } })).toThrow('topology: stacks.x.clock: want "manual" or "real"');
    } finally {
      await t.close();
    }
  });
});
