"""Protocol-free editor features (hover, code actions, claims) over ``analysis``."""
