"""Login, session and response hardening (rate limits, password policy, cookies, headers)."""


def init_hardening(app) -> None:
    """Apply every hardening measure to the app; called once by create_app."""
