/**
 * Slack's documented message limits, applied to every message before it is sent (the last step of
 * building it; the builders in messages.ts already cut each customer text to far less). A message that
 * passes here is not refused for its size: header 150 characters (plain_text), a section text 3,000, at
 * most 10 fields of 2,000, context elements like sections, at most 50 blocks, the top-level text 40,000
 * (we keep notifications far shorter: TEXT_MAX).
 */
import { andMore, cut } from '../text/bounded.js';
import type { AlertMessage, Block, TextObject } from './notifier.js';

export const SLACK_LIMITS = { text: 40_000, blocks: 50, header: 150, section: 3_000, fields: 10, field: 2_000, contextElements: 10 } as const;

/** Our own bound on the notification text: what a phone shows is a line or two. */
export const TEXT_MAX = 3_000;

/** TEXT cut to MAX without leaving half an entity (&amp; &lt; &gt;) before the ellipsis. */
export function cutEscaped(text: string, max: number): string {
  const shortened = cut(text, max);
  if (shortened === text) return text;
  return shortened.replace(/&[a-z]{0,3}…$/, '…');
}

function fitText(object: TextObject, max: number): TextObject {
  return { ...object, text: object.type === 'mrkdwn' ? cutEscaped(object.text, max) : cut(object.text, max) };
}

function fitBlock(block: Block): Block {
  switch (block.type) {
    case 'header':
      return { type: 'header', text: { type: 'plain_text', text: cut(block.text.text, SLACK_LIMITS.header) } };
    case 'section': {
      const fitted: Block = { type: 'section', text: fitText(block.text, SLACK_LIMITS.section) };
      if (block.fields) fitted.fields = block.fields.slice(0, SLACK_LIMITS.fields).map((field) => fitText(field, SLACK_LIMITS.field));
      return fitted;
    }
    case 'context':
      return { type: 'context', elements: block.elements.slice(0, SLACK_LIMITS.contextElements).map((element) => fitText(element, SLACK_LIMITS.section)) };
    case 'divider':
      return block;
  }
}

/** MESSAGE within Slack's limits: every text cut, lists capped, the blocks past 49 replaced by one "... and N more blocks". */
export function fitSlackLimits(message: AlertMessage): AlertMessage {
  let blocks = message.blocks.map(fitBlock);
  if (blocks.length > SLACK_LIMITS.blocks) {
    const kept = blocks.slice(0, SLACK_LIMITS.blocks - 1);
    blocks = [...kept, { type: 'context', elements: [{ type: 'plain_text', text: andMore(blocks.length - kept.length, 'blocks') }] }];
  }
  return { ...message, text: cutEscaped(message.text, TEXT_MAX), blocks };
}
