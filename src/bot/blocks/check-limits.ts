import type { Block, Button, ConfirmDialog, Message, TextObject } from './kit.js';

// Slack's published Block Kit limits (shared/NOTES.md). Slack answers `invalid_blocks` or
// `msg_blocks_too_long` to a payload that breaks one, and an alert that never arrives at 3 AM is
// worse than a shortened one: every builder is checked against these in tests.
export const LIMITS = {
  blocksPerMessage: 50,
  sectionText: 3000,
  fieldsPerSection: 10,
  fieldText: 2000,
  headerText: 150,
  actionsElements: 25,
  contextElements: 10,
  contextText: 3000,
  buttonText: 75,
  actionId: 255,
  buttonValue: 2000,
  blockId: 255,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  messageText: 40_000,
  // Slack rejects messages whose blocks carry more than about 12-13k characters of text in total.
  totalBlockText: 12_000,
} as const;

/** Every way `message` breaks Slack's limits, as readable problems; empty when it is fine. */
export function checkBlockKitLimits(message: Message): string[] {
  const problems: string[] = [];
  let total = 0;
  const text = (where: string, t: TextObject, max: number) => {
    total += t.text.length;
    if (t.text.length === 0) problems.push(`${where}: empty text`);
    if (t.text.length > max) problems.push(`${where}: text ${t.text.length} > ${max}`);
  };
  const confirm = (where: string, c: ConfirmDialog) => {
    if (c.title.text.length > LIMITS.confirmTitle) problems.push(`${where}.title: ${c.title.text.length} > ${LIMITS.confirmTitle}`);
    if (c.text.text.length > LIMITS.confirmText) problems.push(`${where}.text: ${c.text.text.length} > ${LIMITS.confirmText}`);
    if (c.confirm.text.length > LIMITS.confirmButton) problems.push(`${where}.confirm: ${c.confirm.text.length} > ${LIMITS.confirmButton}`);
    if (c.deny.text.length > LIMITS.confirmButton) problems.push(`${where}.deny: ${c.deny.text.length} > ${LIMITS.confirmButton}`);
  };
  const button = (where: string, b: Button, seen: Set<string>) => {
    text(`${where}.text`, b.text, LIMITS.buttonText);
    if (b.text.type !== 'plain_text') problems.push(`${where}.text: buttons take plain_text`);
    if (b.action_id.length === 0 || b.action_id.length > LIMITS.actionId) problems.push(`${where}.action_id: length ${b.action_id.length}`);
    if (seen.has(b.action_id)) problems.push(`${where}.action_id: ${b.action_id} repeated in one block`);
    seen.add(b.action_id);
    if (b.value !== undefined && b.value.length > LIMITS.buttonValue) problems.push(`${where}.value: ${b.value.length} > ${LIMITS.buttonValue}`);
    if (b.confirm) confirm(`${where}.confirm`, b.confirm);
  };

  if (message.text.length === 0) problems.push('text: empty (Slack needs it for notifications and fallback)');
  if (message.text.length > LIMITS.messageText) problems.push(`text: ${message.text.length} > ${LIMITS.messageText}`);
  if (message.blocks.length > LIMITS.blocksPerMessage) problems.push(`blocks: ${message.blocks.length} > ${LIMITS.blocksPerMessage}`);

  message.blocks.forEach((block: Block, i) => {
    const where = `blocks[${i}](${block.type})`;
    switch (block.type) {
      case 'header':
        if (block.text.type !== 'plain_text') problems.push(`${where}: header takes plain_text`);
        text(where, block.text, LIMITS.headerText);
        break;
      case 'section':
        if (!block.text && !block.fields) problems.push(`${where}: needs text or fields`);
        if (block.text) text(`${where}.text`, block.text, LIMITS.sectionText);
        if (block.fields) {
          if (block.fields.length > LIMITS.fieldsPerSection) problems.push(`${where}.fields: ${block.fields.length} > ${LIMITS.fieldsPerSection}`);
          block.fields.forEach((f, j) => text(`${where}.fields[${j}]`, f, LIMITS.fieldText));
        }
        break;
      case 'context':
        if (block.elements.length === 0 || block.elements.length > LIMITS.contextElements) {
          problems.push(`${where}.elements: ${block.elements.length} (1..${LIMITS.contextElements})`);
        }
        block.elements.forEach((e, j) => text(`${where}.elements[${j}]`, e, LIMITS.contextText));
        break;
      case 'actions': {
        if (block.elements.length === 0 || block.elements.length > LIMITS.actionsElements) {
          problems.push(`${where}.elements: ${block.elements.length} (1..${LIMITS.actionsElements})`);
        }
        if (block.block_id !== undefined && block.block_id.length > LIMITS.blockId) problems.push(`${where}.block_id too long`);
        const seen = new Set<string>();
        block.elements.forEach((b, j) => button(`${where}.elements[${j}]`, b, seen));
        break;
      }
      case 'divider':
        break;
    }
  });
  if (total > LIMITS.totalBlockText) problems.push(`blocks: ${total} characters of text > ${LIMITS.totalBlockText}`);
  return problems;
}
