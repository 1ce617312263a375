import pytest


@pytest.fixture(scope="session")
def espeak():
    """The espeak-ng engine; the test command installs espeak-ng, so a missing one fails."""
    from slmlib.world.espeak import engine
    return engine()
