"""Requests to a provider's API (PayPal, the Shopify Admin API) that never follow a redirect.

urllib follows 301, 302 and 303 by itself: a POST answered so is sent again as a GET to
wherever the answer points, with the request's headers (an access token or the client
credentials among them), and the GET's answer is read as the POST's. A provider's API that
redirects is one configured wrongly (its base URL or the shop's domain), so the redirect
comes back as an ``urllib.error.HTTPError`` with its 3xx status instead.
"""

from __future__ import annotations

import email.message
import urllib.request
from http.client import HTTPResponse
from typing import IO


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: email.message.Message,
        newurl: str,
    ) -> None:
        return None  # the opener then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_RefuseRedirects)


def urlopen(request: urllib.request.Request | str, timeout: float) -> HTTPResponse:
    """``urllib.request.urlopen`` without following redirects."""
    response: HTTPResponse = _OPENER.open(request, timeout=timeout)
    return response
