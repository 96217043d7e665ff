import pytest


def test_adds_an_item_to_the_cart():
    cart = [{"sku": "A-1", "qty": 1}]
    assert len(cart) == 1


@pytest.mark.testomatio("@T1a2b3c4d")
def test_computes_the_total():
    assert sum([1, 2, 3]) == 6


@pytest.mark.skip(reason="coupons are not implemented")
def test_applies_a_coupon_code():
    assert False


def test_checks_the_warehouse_stock():
    pytest.skip("warehouse service is offline")
