"""Prices as a person reads them, for everything sold (verification, data plans)."""


def price_text(*, price_minor: int, currency: str, interval: str) -> str:
    """``price_minor`` (cents) per ``interval``: "$8.00 / month", "5,000.00 EUR / month"."""
    amount = f"{price_minor // 100:,}.{price_minor % 100:02d}"
    money = f"${amount}" if currency.lower() == "usd" else f"{amount} {currency.upper()}"
    return f"{money} / {interval}"
