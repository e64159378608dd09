import type { Guardrails } from '../config/tenant.js';

export interface GuardrailInput {
  records: number;
  deletions: number;
  onPlatformBefore: number;
  /** Rows of the tenant's last accepted file; null on a first file. */
  previousRows: number | null;
}

const number = (n: number) => n.toLocaleString('en-US');
const percent = (n: number) => `${(Math.round(n * 10) / 10).toFixed(1)}%`;

/** Why a run must be held (empty = it may be applied). */
export function guardrailReasons(limits: Guardrails, input: GuardrailInput): string[] {
  const reasons: string[] = [];
  if (input.records === 0 && limits.holdEmptyFile) {
    reasons.push('the file has no member rows (header only)');
  }
  if (input.deletions > 0 && input.onPlatformBefore > 0) {
    const share = (input.deletions / input.onPlatformBefore) * 100;
    if (share > limits.maxDeletePercent && input.deletions > limits.maxDeleteCount) {
      reasons.push(
        `would delete ${number(input.deletions)} of ${number(input.onPlatformBefore)} members on the platform (${percent(share)}), ` +
          `limit ${limits.maxDeletePercent}% and ${number(limits.maxDeleteCount)}`,
      );
    }
  }
  if (input.previousRows !== null && input.previousRows > 0 && input.records < input.previousRows) {
    const drop = ((input.previousRows - input.records) / input.previousRows) * 100;
    if (drop > limits.maxShrinkPercent) {
      reasons.push(
        `row count dropped from ${number(input.previousRows)} to ${number(input.records)} (-${percent(drop)}) against the last accepted file, ` +
          `limit ${limits.maxShrinkPercent}%`,
      );
    }
  }
  return reasons;
}
