import pytest


class TestPayment:
    @pytest.mark.testomatio_tags("smoke")
    def test_accepts_a_valid_card(self):
        assert 2 + 2 == 4

    def test_rejects_an_expired_card(self):
        got = {"status": "declined", "code": 54, "reason": "expired card"}
        assert got == {"status": "approved", "code": 0, "reason": None}, "card was not approved"

    @pytest.mark.parametrize("currency, amount", [("EUR", 10), ("USD", 25)])
    def test_charges_in_currency(self, currency, amount):
        assert amount > 0

    # No flaky/retry case: pytestomatio has no support for reruns (and pytest has
    # no built-in rerun), so it is left out of this suite.
