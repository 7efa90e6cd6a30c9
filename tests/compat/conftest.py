import pytest

from harness import GATEWAYS, LEAKS, Mock, gateway

PROVIDER_KEY = "sk-provider-canary-4f1c9e0b7a"
CLIENT_KEY = "sk-client-canary-88aa11"

CONFIG = """
providers:
  mock:
    type: openai
    base_url: {mock}/v1
    api_key: env:TEST_PROVIDER_KEY
    timeouts: {{ first_token: 3s, idle: 3s, total: 20s }}
models:
  - name: gpt-test
    provider: mock
    model: mock-gpt
  - name: embed-test
    provider: mock
    model: mock-embed
  - name: "mock/*"
    provider: mock
"""


@pytest.fixture(scope="session", autouse=True)
def no_secret_leaks():
    """After the whole session (every gateway at TRACE), no secret appeared
    in any gateway's output or data files (see harness.scan_for_secrets)."""
    yield
    for g in GATEWAYS:
        if g.p.poll() is None:
            g.stop()
        g.scan()
    assert not LEAKS, "secrets leaked:\n" + "\n".join(sorted(set(LEAKS))[:50])


@pytest.fixture(scope="session")
def mock():
    m = Mock()
    yield m
    m.stop()


@pytest.fixture(scope="session")
def gw(mock):
    g = gateway(CONFIG.format(mock=mock.url), env={"TEST_PROVIDER_KEY": PROVIDER_KEY})
    yield g
    g.stop()


@pytest.fixture(autouse=True)
def _clean_mock(mock):
    mock.reset()
    yield
