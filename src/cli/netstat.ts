/**
 * `9net netstat`: Plan 9's netstat (sys/src/cmd/netstat.c) on a served
 * /net. One line per conversation of every protocol (ipifc excepted), in
 * numeric order:
 *
 *   %-4s %-4s %-10s %-12s %-10s %-10s %s
 *   proto conv owner state localport remoteport remotehost
 *
 * ports and the remote host translated through cs (`!port=N tcp=*`,
 * `!ip=A dom=*`) unless -n; with -i the interfaces (readipifc):
 *
 *   %-12s %5d %-*I %5M %-*I %8lud %8lud %8lud %8lud
 *   device mtu ip mask net pktin pktout errin errout
 */
import type { Command } from 'commander';
import type { Client } from '../ninep/client.js';
import { DMDIR } from '../ninep/types.js';
import { clientOptions, connect, exit, message } from './common.js';
import type { ClientFlags } from './common.js';
import { servedPath } from './netcall.js';
import { csGetValue } from './ndb.js';
import { readIpifc } from './readipifc.js';
import { netstatEvents } from './netstat-events.js';

interface NetstatFlags extends ClientFlags {
  i?: boolean;
  n?: boolean;
  p?: string[];
  events?: boolean;
}

/** Plan 9's %-Ns: left-justified in N columns, never cut. */
const left = (s: string, n: number): string => s.padEnd(n);
/** Plan 9's %Nd / %Nlud: right-justified. */
const right = (s: string | number, n: number): string => String(s).padStart(n);

/** What a file read returns, or null when it cannot be read. */
async function readText(c: Client, path: string): Promise<string | null> {
  try {
    return (await c.readFile(path)).toString();
  } catch {
    return null;
  }
}

class Netstat {
  private readonly cache = new Map<string, Promise<string | null>>();

  constructor(private readonly c: Client, private readonly netroot: string, private readonly notrans: boolean) {}

  private lookup(attr: string, val: string, rattr: string): Promise<string | null> {
    const key = `${attr}=${val} ${rattr}`;
    let p = this.cache.get(key);
    if (!p) {
      p = csGetValue(this.c, this.netroot, attr, val, rattr);
      this.cache.set(key, p);
    }
    return p;
  }

  /** netstat.c getport: the service name of a port (9 characters at most, as its buffer holds). */
  private async port(net: string, p: string): Promise<string> {
    const name = this.notrans ? null : await this.lookup('port', p, net);
    return (name ?? p).slice(0, 9);
  }

  /** One conversation's line, or null when it has no status (netstat.c pip). */
  async conv(net: string, name: string, owner: string): Promise<string | null> {
    const dir = servedPath(`${this.netroot}/${net}/${name}`);
    const status = await readText(this.c, `${dir}/status`);
    if (status === null) return null;
    const state = status.split(' ')[0]!.replace(/\n[^\n]*$/, '');
    let line = `${left(net, 4)} ${left(name, 4)} ${left(owner, 10)} ${left(state, 12)} `;
    const local = await readText(this.c, `${dir}/local`);
    const lbang = local === null ? -1 : local.indexOf('!');
    if (local === null || lbang < 0) return line;
    line += `${left(await this.port(net, local.slice(lbang + 1).replace(/\n$/, '')), 10)} `;
    const remote = await readText(this.c, `${dir}/remote`);
    if (remote === null) return line;
    const r = remote.replace(/\n$/, '');
    const rbang = r.indexOf('!');
    const host = rbang < 0 ? r : r.slice(0, rbang);
    const rport = rbang < 0 ? '' : r.slice(rbang + 1);
    const dname = this.notrans ? null : await this.lookup('ip', host, 'dom');
    return `${line}${left(await this.port(net, rport), 10)} ${dname ?? host}`;
  }

  /** netstat.c nstat: every conversation of one protocol, in numeric order. */
  async proto(net: string, out: (line: string) => void): Promise<void> {
    let entries;
    try {
      entries = await this.c.ls(servedPath(`${this.netroot}/${net}`));
    } catch {
      return;
    }
    const convs = entries.filter((d) => d.mode & DMDIR && /^\d+$/.test(d.name)).sort((a, b) => Number(a.name) - Number(b.name));
    for (const d of convs) {
      const line = await this.conv(net, d.name, d.uid);
      if (line !== null) out(line);
    }
  }

  /** The protocols to list: every directory with conversations, ipifc excepted. */
  async protocols(): Promise<string[]> {
    const root = await this.c.ls(servedPath(this.netroot));
    const out: string[] = [];
    for (const d of root) {
      if (!(d.mode & DMDIR) || d.name === 'ipifc') continue;
      const names = await this.c.ls(servedPath(`${this.netroot}/${d.name}`)).catch(() => []);
      if (names.some((n) => n.name === 'clone')) out.push(d.name);
    }
    return out;
  }

  /** netstat.c pipifc. */
  async interfaces(out: (line: string) => void): Promise<void> {
    const ifcs = await readIpifc(this.c, this.netroot);
    let l = 7;
    for (const ifc of ifcs) for (const a of ifc.lifcs) l = Math.max(l, a.ip.length, a.net.length);
    for (const ifc of ifcs) {
      for (const a of ifc.lifcs) {
        out(`${left(ifc.dev, 12)} ${right(ifc.mtu, 5)} ${left(a.ip, l)} ${right(a.mask, 5)} ${left(a.net, l)} ${right(ifc.pktin, 8)} ${right(ifc.pktout, 8)} ${right(ifc.errin, 8)} ${right(ifc.errout, 8)}`);
      }
    }
  }
}

export function addNetstat(program: Command): void {
  const cmd = program
    .command('netstat')
    .description('Plan 9\'s netstat: every conversation with its owner, state, local and remote; -i the interfaces')
    .argument('[netdir]', 'the network directory on the server', '/net');
  clientOptions(cmd)
    .option('-i', 'the interfaces instead of the conversations')
    .option('-n', 'numbers: no port or host name translation through cs')
    .option('-p <proto>', 'only this protocol (repeatable)', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .option('-e, --events', 'show TCP and interface events as they happen (our stack\'s events files), until interrupted')
    .action(async (netdir: string, o: NetstatFlags) => {
      if (o.events) return netstatEvents(o).then(() => exit(0), (e: unknown) => exit(1, `netstat: ${message(e)}`));
      try {
        const c = await connect(o);
        const ns = new Netstat(c, netdir, o.n ?? false);
        const out = (line: string): void => { process.stdout.write(`${line}\n`); };
        if (o.i) await ns.interfaces(out);
        else for (const p of o.p ?? (await ns.protocols())) await ns.proto(p, out);
        exit(0);
      } catch (e) {
        exit(1, `netstat: ${message(e)}`);
      }
    });
}
