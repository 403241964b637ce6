"""The web app the node serves at ``/``: markets, reserves, Mini-Pools, your account, actions
previewed exactly and signed in the browser, liquidations and a risk view.

Why this shape: the pages are static HTML shells plus a few small vanilla-JS modules (no
build step, nothing to bundle, every asset ships in this package and is served from
memory), and every number they show comes from the node's JSON API, the same endpoints a
script would use. Charts are SVG drawn by the server from exact integers. The private key
never leaves the browser: transactions are signed there with WebCrypto Ed25519, in the
same format as :mod:`astera.client`.

:func:`create_router` builds the routes for one node (pages, static assets and the JSON
endpoints the pages need beyond the core API: rate curves, reserve history, account
health with liquidation prices, what-ifs, the liquidations feed and the risk view).
"""

from .routes import create_router

__all__ = ["create_router"]
