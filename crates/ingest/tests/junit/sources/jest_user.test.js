describe('UserService', () => {
  test('adds a user', () => {
    console.log('creating user alice');
    expect(1 + 1).toBe(2);
  });

  test('rejects a duplicate email', () => {
    expect({ email: 'a@example.com', ok: false }).toEqual({ email: 'a@example.com', ok: true });
  });

  test.skip('sends a welcome mail', () => {});

  describe('when the store is down', () => {
    test('reports <unavailable> & retries', () => {
      expect(true).toBe(true);
    });
  });
});
