/**
 * `9net con`: Plan 9's con (sys/src/cmd/con/con.c) through a served /net:
 * a terminal connection to net!host[!service].
 *
 * As con.c: without -l it first tries rlogin (tcp!host!login with the BSD
 * handshake: NUL, local user, remote user, $TERM, each NUL-ended; a NUL
 * back means accepted), then a plain connection ("simple": bytes both
 * ways, remote echo); with -l the other way round. A DEST that is a path
 * (/tcp/3/data) is opened as the connection. "connected to NAME on DIR" is
 * printed on stderr. A terminal on standard input is put in raw mode
 * unless -C. Control-\ gives the menu: q quit, . continue, !cmd run cmd
 * with the connection as its standard output, i send an interrupt (0x1c),
 * r toggle printing returns.
 *
 * Unlike con.c, the end of standard input ends the command (once replies
 * already in flight are printed), as con.c does after its 32nd EOF.
 */
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { ReadWindow, WriteWindow } from '../ninep/client.js';
import type { Client, File } from '../ninep/client.js';
import { ORDWR } from '../ninep/types.js';
import { clientOptions, connect, currentUser, exit, message } from './common.js';
import type { ClientFlags } from './common.js';
import { dial, servedPath } from './netcall.js';
import { copyOut } from './pump.js';

interface ConFlags extends ClientFlags {
  C?: boolean;
  c?: string;
  l?: string | boolean;
  r?: boolean;
  R?: boolean;
  T?: boolean;
  s?: boolean;
  v?: boolean;
}

const MENU = 0x1c;
const STDHELP = '\t(q)uit, (i)nterrupt, toggle printing (r)eturns, (.)continue, (!cmd)\n';

/** Plan 9 netmkaddr: add the network and service a dial string lacks. */
export function netmkaddr(dest: string, net: string | null, service: string | null): string {
  const bangs = dest.split('!').length - 1;
  if (bangs === 0) return `${net ?? 'net'}!${dest}${service ? `!${service}` : ''}`;
  if (bangs === 1 && service) return `${dest}!${service}`;
  return dest;
}

interface Conn {
  data: File;
  name: string;
  dir: string;
}

class Con {
  private raw = false;
  private returns: boolean;
  private nltocr: boolean;
  private firsterr = '';

  constructor(private readonly c: Client, private readonly o: ConFlags) {
    this.returns = !o.r;
    this.nltocr = o.R ?? false;
  }

  /** con.c seterr: keep the first real error over later translation failures. */
  private seterr(name: string, e: unknown): void {
    const se = message(e);
    if (this.o.v) console.error(`'${se}' calling ${name}`);
    if (this.firsterr && /translate|file does not exist|unknown address|directory entry not found/.test(se)) return;
    this.firsterr = se;
  }

  private async dodial(dest: string, net: string | null, service: string | null): Promise<Conn | null> {
    const name = netmkaddr(dest, net, service);
    try {
      const call = await dial(this.c, name);
      console.error(`connected to ${name} on /net${call.dir}`);
      return { data: call.data, name, dir: call.dir };
    } catch (e) {
      // con.c prints the error alone: without our dial's "dial NAME: " and "(tried ...)".
      this.seterr(name, (e as Error).message.replace(/^dial \S+: /, '').replace(/ \(tried [^)]*\)$/, ''));
      return null;
    }
  }

  /** con.c rlogin: the BSD handshake, then a byte stream with local echo. */
  async rlogin(dest: string): Promise<Conn | null> {
    if (dest.includes('!') && !dest.startsWith('tcp!') && !dest.startsWith('net!')) return null;
    const conn = await this.dodial(dest, 'tcp', 'login');
    if (!conn) return null;
    const localuser = this.o.user ?? currentUser();
    const remuser = typeof this.o.l === 'string' ? this.o.l : this.o.l ? ':' : localuser;
    const term = process.env.TERM ?? 'p9';
    try {
      for (const s of ['', localuser, remuser, term]) await conn.data.write(Buffer.from(`${s}\0`));
    } catch {
      throw new Error('BSD authentication failed');
    }
    const b = await conn.data.read(1).catch(() => Buffer.alloc(0));
    if (b.length !== 1) throw new Error('BSD authentication failed1');
    if (b[0] !== 0) {
      let line = '';
      for (;;) {
        const x = await conn.data.read(1).catch(() => Buffer.alloc(0));
        if (x.length === 0) break;
        line += x.toString('latin1');
        if (x[0] === 0x0a) break;
      }
      throw new Error(`remote error: ${line.replace(/\n$/, '')}`);
    }
    this.nltocr = true;
    return conn;
  }

  async simple(dest: string): Promise<Conn | null> {
    return this.dodial(dest, null, null);
  }

  async device(path: string): Promise<Conn> {
    try {
      return { data: await this.c.open(servedPath(path), ORDWR), name: path, dir: path };
    } catch (e) {
      throw new Error(`cannot open ${path}: ${message(e)}`);
    }
  }

  get error(): string {
    return this.firsterr;
  }

  private rawon(): void {
    if (this.o.C || !process.stdin.isTTY || this.raw) return;
    process.stdin.setRawMode(true);
    this.raw = true;
  }

  private rawoff(): void {
    if (!this.raw) return;
    process.stdin.setRawMode(false);
    this.raw = false;
  }

  /** con.c fromnet's filters: parity, CR to NL (-T), or CRs dropped (returns off). */
  private fromNet(b: Buffer): Buffer {
    let out = b;
    if (this.o.s) out = Buffer.from(out.map((x) => x & 0x7f));
    if (this.o.T) out = Buffer.from(out.map((x) => (x === 0x0d ? 0x0a : x)));
    else if (!this.returns) out = Buffer.from(out.filter((x) => x !== 0x0d));
    return out;
  }

  /** The keyboard's bytes as sent: NL and CR swapped with -R (and for rlogin). */
  private fromKbd(b: Buffer): Buffer {
    return this.nltocr ? Buffer.from(b.map((x) => (x === 0x0d ? 0x0a : x === 0x0a ? 0x0d : x))) : b;
  }

  /** con.c system: run cmd with the connection as its standard output. */
  private system(conn: Conn, cmd: string): string | null {
    const r = spawnSync('/bin/sh', cmd ? ['-c', cmd] : [], { stdio: ['inherit', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
    if (r.stdout && r.stdout.length > 0) void conn.data.write(r.stdout).catch(() => {});
    if (r.error) return r.error.message;
    return r.status === 0 ? null : `exit ${r.status ?? r.signal}`;
  }

  /** con.c menu: false to quit. */
  private async menu(conn: Conn, kbd: Keyboard, w: WriteWindow): Promise<boolean> {
    const wasraw = this.raw;
    this.rawoff();
    process.stderr.write('>>> ');
    for (;;) {
      const line = await kbd.line();
      if (line === null) return false;
      switch (line[0]) {
        case '!':
          process.stdout.write(`${line}\n`);
          this.system(conn, line.slice(1));
          process.stdout.write('!\n');
          break;
        case '.':
          break;
        case 'q':
          return false;
        case 'i':
          await w.write(Buffer.from([MENU]));
          break;
        case 'r':
          this.returns = !this.returns;
          break;
        default:
          process.stderr.write(STDHELP);
          process.stderr.write('>>> ');
          continue;
      }
      if (wasraw) this.rawon();
      return true;
    }
  }

  /** con.c stdcon: keyboard to the connection, the connection to the screen. */
  async stdcon(conn: Conn): Promise<void> {
    if (this.o.c !== undefined) {
      const err = this.system(conn, this.o.c);
      if (err) {
        process.stdout.write(`con: ${this.o.c} terminated with ${err}\n`);
        return exit(1);
      }
    }
    this.rawon();
    process.on('exit', () => this.rawoff());
    const reader = new ReadWindow(conn.data);
    const writer = new WriteWindow(conn.data);
    copyOut(reader, process.stdout, (b) => this.fromNet(b)).then(() => exit(0), (e: unknown) => exit(1, `con: ${message(e)}`));
    const kbd = new Keyboard();
    for (;;) {
      const b = await kbd.chunk();
      if (b === null) break;
      if (b.includes(MENU)) {
        if (!(await this.menu(conn, kbd, writer))) return exit(0);
        continue;
      }
      try {
        await writer.write(this.fromKbd(b));
      } catch {
        return;
      }
    }
    await writer.drain().catch(() => {});
    reader.stop();
  }
}

/** Standard input as chunks (what the terminal gave) or, for the menu, lines. */
class Keyboard {
  private readonly it = process.stdin[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);

  /** The next chunk, or null at EOF. */
  async chunk(): Promise<Buffer | null> {
    if (this.pending.length > 0) {
      const b = this.pending;
      this.pending = Buffer.alloc(0);
      return b;
    }
    const next = await this.it.next();
    return next.done ? null : next.value;
  }

  /** The next line without its newline, or null at EOF. */
  async line(): Promise<string | null> {
    let buf = Buffer.alloc(0);
    for (;;) {
      const nl = buf.indexOf(0x0a);
      if (nl >= 0) {
        this.pending = buf.subarray(nl + 1);
        return buf.subarray(0, nl).toString().replace(/\r$/, '');
      }
      const b = await this.chunk();
      if (b === null) return buf.length > 0 ? buf.toString() : null;
      buf = Buffer.concat([buf, b]);
    }
  }
}

export function addCon(program: Command): void {
  const cmd = program
    .command('con')
    .description('Plan 9\'s con: a terminal connection (rlogin, else plain) to net!host[!service] through /net')
    .argument('[dest]', 'net!host[!service], or a file on the server such as /tcp/3/data');
  clientOptions(cmd)
    .option('-C', 'cooked: leave the terminal in line mode')
    .option('-c <cmd>', 'run cmd with the connection as its standard output first')
    .option('-l [remuser]', 'limited: a plain connection first (then rlogin as remuser)')
    .option('-r', 'do not print carriage returns from the connection')
    .option('-R', 'swap newline and carriage return in what is typed')
    .option('-T', 'print carriage returns from the connection as newlines')
    .option('-s', 'strip the parity bit from what arrives')
    .option('-v', 'verbose: print each dial failure')
    .action(async (given: string | undefined, o: ConFlags) => {
      // con.c: `-l X` alone takes X as the destination, not the remote user.
      let dest = given;
      if (dest === undefined && typeof o.l === 'string') {
        dest = o.l;
        o.l = true;
      }
      if (dest === undefined) {
        cmd.outputHelp({ error: true });
        return exit(1);
      }
      try {
        const c = await connect(o);
        const con = new Con(c, o);
        let conn: Conn | null;
        if (dest.startsWith('/') && !dest.includes('!')) conn = await con.device(dest);
        else if (o.l) conn = (await con.simple(dest)) ?? (await con.rlogin(dest));
        else conn = (await con.rlogin(dest)) ?? (await con.simple(dest));
        if (!conn) return exit(1, `con: ${con.error}`);
        await con.stdcon(conn);
      } catch (e) {
        exit(1, `con: ${message(e)}`);
      }
    });
}
