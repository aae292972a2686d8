import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { issueDetails, issuePath, issueText, jsonOrUndefined } from '../../common/validation.ts';

const Report = z.object({
  id: z.string().min(1),
  sections: z.array(z.object({ title: z.string(), text: z.string().max(5) })),
  fields: z.record(z.string(), z.string()),
});

function errorOf(schema: z.ZodType, value: unknown): z.ZodError {
  const r = schema.safeParse(value);
  if (r.success) throw new Error('expected the parse to fail');
  return r.error;
}

describe('issueText', () => {
  it('names nested paths as people and code read them', () => {
    const e = errorOf(Report, { id: '', sections: [{ title: 'a', text: 'ok' }, { title: 'b', text: 'far too long' }], fields: { 'odd key': 3 } });
    expect(issueText(e)).toBe(
      'id: Too small: expected string to have >=1 characters; sections[1].text: Too big: expected string to have <=5 characters; fields["odd key"]: Invalid input: expected string, received number',
    );
  });

  it('names the root as the caller says', () => {
    expect(issueText(errorOf(z.string(), 3))).toBe('(input): Invalid input: expected string, received number');
    expect(issueText(errorOf(z.string(), 3), { root: '(body)' })).toBe('(body): Invalid input: expected string, received number');
  });

  it('is bounded: a hostile payload with thousands of problems makes one short line', () => {
    const e = errorOf(z.array(z.number()), Array.from({ length: 5000 }, () => 'x'));
    const text = issueText(e, { max: 3 });
    expect(text).toMatch(/^\[0\]: .*; \[1\]: .*; \[2\]: .* \(and 4997 more problems\)$/);
    expect(text.length).toBeLessThan(300);
    expect(issueText(errorOf(z.array(z.number()), ['a', 'b']), { max: 1 })).toMatch(/\(and 1 more problem\)$/);
    expect(issueText(errorOf(z.array(z.number()), ['a']), { max: 0 })).not.toContain('more');
  });

  it('takes a plain list of issues too', () => {
    expect(issueText([{ path: ['a', 0, 'b-c'], message: 'bad' }])).toBe('a[0]["b-c"]: bad');
  });
});

describe('issuePath', () => {
  it('handles the root, indices first, symbols and odd keys', () => {
    expect(issuePath([])).toBe('');
    expect(issuePath([2, 'text'])).toBe('[2].text');
    expect(issuePath([Symbol('s')])).toBe('[Symbol(s)]');
    expect(issuePath(['$ok', '1x'])).toBe('$ok["1x"]');
  });
});

describe('issueDetails', () => {
  it('gives at most max issues as data, with paths as strings', () => {
    const e = errorOf(z.array(z.number()), ['a', 'b', 'c']);
    expect(issueDetails(e, 2)).toEqual([
      { path: ['0'], message: 'Invalid input: expected number, received string' },
      { path: ['1'], message: 'Invalid input: expected number, received string' },
    ]);
  });
});

describe('jsonOrUndefined', () => {
  it('parses JSON and answers undefined for anything else', () => {
    expect(jsonOrUndefined('{"a":[1]}')).toEqual({ a: [1] });
    expect(jsonOrUndefined('null')).toBeNull();
    expect(jsonOrUndefined('')).toBeUndefined();
    expect(jsonOrUndefined('<html>Bad gateway</html>')).toBeUndefined();
  });
});
