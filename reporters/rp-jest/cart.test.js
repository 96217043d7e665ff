'use strict';

describe('Cart', () => {
  test('adds an item to the cart', () => {
    const cart = [];
    cart.push({ sku: 'A-1', qty: 1 });
    expect(cart).toHaveLength(1);
  });

  test('computes the total @T1a2b3c4d', () => {
    expect([1, 2, 3].reduce((a, b) => a + b, 0)).toBe(6);
  });

  test.skip('applies a coupon code', () => {
    throw new Error('coupons are not implemented');
  });

  test.todo('supports gift cards');

  describe('Stock', () => {
    test('checks the warehouse stock', () => {
      console.log('stock service says: 3 left');
      // The agent exposes ReportingApi as a global (sent as a multipart log with a file).
      // Guarded so the file also runs without the agent.
      if (typeof ReportingApi !== 'undefined') {
        ReportingApi.attachment({ name: 'stock.json', type: 'application/json', content: Buffer.from('{"left":3}').toString('base64') }, 'stock snapshot');
      }
      expect(3).toBeGreaterThan(0);
    });
  });
});
