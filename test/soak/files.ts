import { mulberry32 } from '../../bench/random.js';
/**
 * The soak's membership files: per tenant a deterministic sequence, each file the previous accepted one
 * with ~1.5% of members removed, ~1.5% added, ~1.5% with the status flipped and ~2% with a new job
 * function (under every guardrail, so no run is held). Every 7th file carries one invalid email (a
 * rejection, moved to rejected/ with its errors file) and the file after an accepted one is, every
 * 7th time, the same bytes again under a new name (a duplicate).
 */

const HEADER = 'first_name,last_name,email,employee_id,status,job_function';
const JOBS = ['Engineering', 'Finance', 'Sales', 'Support', 'Legal', 'Operations'];

/** mulberry32 (bench/random.ts): a small seeded PRNG, so a soak can be re-run with the same files. */
export const seeded = mulberry32;

interface Member {
  n: number;
  status: 'active' | 'inactive';
  job: string;
}

export type FileKind = 'changes' | 'invalid' | 'duplicate';

export interface SoakFile {
  tenant: string;
  /** 0-based position in the tenant's sequence. */
  index: number;
  name: string;
  kind: FileKind;
  content: string;
}

/** The date of file INDEX: the 15th of consecutive months from January 2020 (unique, in upload order). */
function fileDate(index: number): string {
  const month = index % 12;
  const year = 2020 + Math.floor(index / 12);
  return `${String(month + 1).padStart(2, '0')}.15.${year}`;
}

export class TenantFiles {
  private readonly random: () => number;
  private readonly members = new Map<number, Member>();
  private nextMember = 1;
  private lastAccepted: string | undefined;
  readonly files: SoakFile[] = [];

  constructor(
    readonly tenant: string,
    private readonly rows: number,
    seed: number,
  ) {
    this.random = seeded(seed);
    for (let i = 0; i < rows; i++) this.add();
  }

  private add(): void {
    const n = this.nextMember++;
    this.members.set(n, { n, status: 'active', job: JOBS[Math.floor(this.random() * JOBS.length)]! });
  }

  private pick(share: number): Member[] {
    const all = [...this.members.values()];
    const count = Math.max(1, Math.round(all.length * share));
    const chosen = new Set<Member>();
    while (chosen.size < count) chosen.add(all[Math.floor(this.random() * all.length)]!);
    return [...chosen];
  }

  private render(invalidRow: boolean): string {
    const lines = [HEADER];
    for (const m of this.members.values()) {
      lines.push(`First${m.n},Last${m.n},m${m.n}@${this.tenant}.example.com,E${m.n},${m.status},${m.job}`);
    }
    if (invalidRow) {
      const n = this.nextMember + 1_000_000;
      lines.push(`First${n},Last${n},not-an-email-${n},E${n},active,Sales`);
    }
    return `${lines.join('\n')}\n`;
  }

  /** The tenant's next file. */
  next(): SoakFile {
    const index = this.files.length;
    let kind: FileKind = 'changes';
    if (index > 0 && index % 7 === 3) kind = 'invalid';
    else if (index > 0 && index % 7 === 5 && this.lastAccepted !== undefined) kind = 'duplicate';
    let content: string;
    if (kind === 'invalid') {
      content = this.render(true);
    } else if (kind === 'duplicate') {
      content = this.lastAccepted!;
    } else {
      if (index > 0) {
        for (const m of this.pick(0.015)) this.members.delete(m.n);
        for (let i = 0; i < Math.max(1, Math.round(this.rows * 0.015)); i++) this.add();
        for (const m of this.pick(0.015)) m.status = m.status === 'active' ? 'inactive' : 'active';
        for (const m of this.pick(0.02)) m.job = JOBS[(JOBS.indexOf(m.job) + 1) % JOBS.length]!;
      }
      content = this.render(false);
      this.lastAccepted = content;
    }
    const file: SoakFile = { tenant: this.tenant, index, name: `Soak ${this.tenant} members - ${fileDate(index)}.csv`, kind, content };
    this.files.push(file);
    return file;
  }
}
