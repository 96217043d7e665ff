'use strict';

const assert = require('assert');
const { log } = require('@testomatio/reporter');

// Module-level counter: the flaky test fails on its first attempt and passes on the retry.
let gatewayAttempts = 0;

describe('Checkout', function () {
  describe('Payment', function () {
    it('accepts a valid card @smoke', function () {
      assert.strictEqual(2 + 2, 4);
    });

    it('rejects an expired card', function () {
      log('charging card 4111-xxxx-xxxx-1111');
      // deepStrictEqual produces a multi-line assertion message with a diff
      assert.deepStrictEqual(
        { status: 'declined', code: 54, reason: 'expired card' },
        { status: 'approved', code: 0, reason: null },
      );
    });

    it('retries the payment gateway', function () {
      this.retries(1);
      gatewayAttempts += 1;
      if (gatewayAttempts === 1) {
        throw new Error(`gateway timeout on attempt ${gatewayAttempts}`);
      }
      assert.strictEqual(gatewayAttempts, 2);
    });
  });
});
