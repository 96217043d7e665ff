import pytest


@pytest.fixture
def broken_db():
    raise ConnectionError("database is down")


def test_passes():
    print("hello from stdout")
    assert 1 + 1 == 2


def test_fails():
    import sys
    print("about to check the status")
    print("warning: slow backend", file=sys.stderr)
    value = {"status": 503}
    assert value["status"] == 200, "expected <ok> & \"200\""


@pytest.mark.skip(reason="not on this platform")
def test_skipped():
    pass


@pytest.mark.xfail(reason="bug #123 not fixed yet")
def test_expected_failure():
    assert False


def test_fixture_error(broken_db):
    pass


class TestUsers:
    @pytest.mark.parametrize("a,b", [(1, 2), (3, 4)])
    def test_add(self, a, b):
        assert a < b

    def test_record(self, record_property):
        record_property("owner", "team-api")
        assert True
