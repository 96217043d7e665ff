test.each([[1, 1, 2], [2, 2, 4]])('add(%i, %i) = %i', (a, b, sum) => {
  expect(a + b).toBe(sum);
});
test.todo('divides by zero');
