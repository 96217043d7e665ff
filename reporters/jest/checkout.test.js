'use strict';

// Every test in this file gets one retry (jest-circus). The flaky test uses it;
// the failing test fails on both attempts.
jest.retryTimes(1);

// Module-level counter: the flaky test fails on its first attempt and passes on the retry.
let gatewayAttempts = 0;

describe('Checkout', () => {
  describe('Payment', () => {
    test('accepts a valid card @smoke', () => {
      expect(2 + 2).toBe(4);
    });

    test('rejects an expired card', () => {
      // toEqual on objects produces a multi-line message with a diff
      expect({ status: 'declined', code: 54, reason: 'expired card' }).toEqual({
        status: 'approved',
        code: 0,
        reason: null,
      });
    });

    test('retries the payment gateway', () => {
      gatewayAttempts += 1;
      if (gatewayAttempts === 1) {
        throw new Error(`gateway timeout on attempt ${gatewayAttempts}`);
      }
      expect(gatewayAttempts).toBe(2);
    });
  });
});
