import { describe, expect, it } from 'vitest';
import { codeFromScan } from './scanned';

describe('codeFromScan', () => {
  it('takes a bare code as it is and a link by its code', () => {
    expect(codeFromScan('  abcDEF_-12 ')).toBe('abcDEF_-12');
    expect(codeFromScan('https://tickets.example/t?code=xyz')).toBe('xyz');
    expect(codeFromScan('https://tickets.example/tickets/xyz')).toBe('xyz');
  });
});
