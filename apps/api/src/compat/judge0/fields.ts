import { JUDGE0_DEFAULT_FIELDS, JUDGE0_FIELDS, type Judge0Field } from '@sbx/shared';

const isField = (name: string): name is Judge0Field => (JUDGE0_FIELDS as readonly string[]).includes(name);

/**
 * Judge0's `fields` parameter (Fields::Submission): a comma list, `*` for all; none, or only
 * unknown ones, means the defaults. `invalid` names the unknown ones, which Judge0 refuses.
 */
export function requestedFields(raw: unknown): { fields: readonly Judge0Field[]; invalid: string[] } {
  const names = typeof raw === 'string' ? raw.split(',').filter((s) => s !== '') : [];
  const invalid = names.filter((n) => n !== '*' && !isField(n));
  if (names.includes('*')) return { fields: JUDGE0_FIELDS, invalid };
  const known = names.filter(isField);
  return { fields: known.length > 0 ? known : JUDGE0_DEFAULT_FIELDS, invalid };
}

/** Judge0's refusal of unknown fields: 400 `invalid fields: [a, b]`. */
export const invalidFieldsError = (invalid: string[]) => ({ error: `invalid fields: [${invalid.join(', ')}]` });
