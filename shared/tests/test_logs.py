"""Logs never carry a URL's query string, fragment or userinfo, nor a credential parameter, whoever logs it."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import secrets
from collections.abc import Iterator

import httpx
import pytest

from offerflow_shared import logs


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The process's logging as a service configures it, written to a buffer; restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in logs.QUIET})
    logs.configure("logs-test", "DEBUG")
    out = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    try:
        yield out
    finally:
        root.handlers[:], level, quiet = saved
        root.setLevel(level)
        for name, lvl in quiet.items():
            logging.getLogger(name).setLevel(lvl)


def lines(out: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def marker() -> str:
    return "mk" + secrets.token_hex(12)


R = logs.REDACTED


@pytest.mark.parametrize(("raw", "shown"), [
    ("GET https://acct.blob.core.windows.net/vhds/os.vhd?sv=2014&sig=SECRET&se=x done",
     "GET https://acct.blob.core.windows.net/vhds/os.vhd done"),
    ("https://s3.example:9000/b/k?X-Amz-Credential=AK%2Fx&X-Amz-Signature=SECRET#frag",
     "https://s3.example:9000/b/k"),
    ("fetching 'https://user:SECRET@host.example/a/b?token=SECRET' now", "fetching 'https://host.example/a/b' now"),
    ("postgresql://offerflow:SECRET@127.0.0.1:5432/offerflow", "postgresql://127.0.0.1:5432/offerflow"),
    ('<a href="https://x.example/p?token=SECRET">', '<a href="https://x.example/p">'),
    ("file:///var/data/os.vhd?sig=SECRET", "file:///var/data/os.vhd"),
    ("http://[::1]:8080/?q=SECRET", "http://[::1]:8080/"),
    # outside a URL: a request line's query alone, params, a connection string, headers, our own tokens
    ("GET /portal/?token=SECRET HTTP/1.1", f"GET /portal/?token={R} HTTP/1.1"),
    ("params={'client_id': 'cid', 'client_secret': 'SECRET'}",
     f"params={{'client_id': 'cid', 'client_secret': '{R}'}}"),
    ('{"clientSecret": "SECRET", "munchkinId": "123-ABC-456"}',
     f'{{"clientSecret": "{R}", "munchkinId": "123-ABC-456"}}'),
    ("DefaultEndpointsProtocol=https;AccountName=leads;AccountKey=SECRET==;EndpointSuffix=x",
     f"DefaultEndpointsProtocol=https;AccountName=leads;AccountKey={R};EndpointSuffix=x"),
    ("headers {'Authorization': 'Bearer SECRETSECRET'}", f"headers {{'Authorization': '{R}'}}"),
    ("sent with Bearer SECRETSECRET", f"sent with Bearer {R}"),
    ("token ofp_SECRETSECRETSECRETSECRET refused", f"token ofp_{R} refused"),
    ("X-Amz-Signature=SECRET&X-Amz-Date=20240101", f"X-Amz-Signature={R}&X-Amz-Date={R}"),
])
def test_redact_cuts_urls_to_scheme_host_path_and_hides_credentials(raw: str, shown: str) -> None:
    assert logs.redact(raw) == shown
    assert logs.redact(shown) == shown  # the filter and the formatter both redact: twice is once


def test_redact_keeps_text_without_secrets_unchanged() -> None:
    for text in ("validation passed for offer-1", "https://example.com/docs", "mail to ops@example.com",
                 "https://example.com/a@b/c", "HTTP 403 from https://h.example/x", "ratio 2:1 at 12:00"):
        assert logs.redact(text) == text


def test_an_email_in_a_query_is_not_taken_for_userinfo() -> None:
    assert logs.redact("https://h.example/p?email=a@b.example&sig=S1") == "https://h.example/p"


def test_a_library_logger_with_args_is_redacted(captured: io.StringIO) -> None:
    secret = marker()
    url = f"https://s3.example/b/k?X-Amz-Signature={secret}"
    logging.getLogger("botocore.endpoint").info("Making request to %s with %r", url, {"token": secret})
    (line,) = lines(captured)
    assert secret not in captured.getvalue()
    assert line["message"].startswith("Making request to https://s3.example/b/k with")
    assert line["logger"] == "botocore.endpoint" and line["service"] == "logs-test"


def test_an_exception_naming_a_url_is_redacted(captured: io.StringIO) -> None:
    secret = marker()
    try:
        raise httpx.ConnectError(f"cannot reach https://u:{secret}@h.example/os.vhd?sig={secret}")
    except httpx.ConnectError:
        logging.getLogger("offerflow.runtime").exception("fetch of %s failed", f"https://h.example/x?sig={secret}")
    (line,) = lines(captured)
    assert secret not in captured.getvalue()
    assert "https://h.example/os.vhd" in line["exception"] and "ConnectError" in line["exception"]
    assert line["message"] == "fetch of https://h.example/x failed"


def test_an_httpx_request_logged_at_info_shows_no_query(captured: io.StringIO) -> None:
    secret = marker()
    logging.getLogger("httpx").setLevel(logging.INFO)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="ok"))
    with httpx.Client(transport=transport) as client:
        assert client.get(f"https://user:{secret}@store.example/vhds/os.vhd",
                          params={"sig": secret, "se": "2030-01-01"}).status_code == 200
    text = captured.getvalue()
    assert secret not in text
    (line,) = [m for m in lines(captured) if m["logger"] == "httpx"]
    assert line["message"].startswith("HTTP Request: GET https://store.example/vhds/os.vhd ")


def test_a_handler_a_library_added_before_configure_gets_the_filter(captured: io.StringIO) -> None:
    own = io.StringIO()
    lib = logging.getLogger("logs-test.library")
    handler = logging.StreamHandler(own)
    lib.addHandler(handler)
    try:
        logs.configure("logs-test", "DEBUG")  # a service configures after its imports
        logging.getLogger().handlers[0].setStream(captured)  # type: ignore[attr-defined]
        lib.warning("GET https://h.example/p?token=%s", "S3CRETVALUE")
        assert "S3CRETVALUE" not in own.getvalue() and "https://h.example/p" in own.getvalue()
        assert "S3CRETVALUE" not in captured.getvalue()
    finally:
        lib.removeHandler(handler)


def test_dict_config_filters_like_configure() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logging.config.dictConfig(logs.dict_config("logs-dict", "INFO"))
        out = io.StringIO()
        root.handlers[0].setStream(out)  # type: ignore[attr-defined]
        access = logging.getLogger("aiohttp.access")
        access.warning('127.0.0.1 "GET /status?token=%s HTTP/1.1" 200', "S3CRETVALUE")
        assert "S3CRETVALUE" not in out.getvalue()
        assert lines(out)[0]["message"] == '127.0.0.1 "GET /status?token=[redacted] HTTP/1.1" 200'
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_the_disk_sources_shown_url_agrees_with_the_logs() -> None:
    # Step messages and reports name the disk through sources.redact: no userinfo there either (found by the
    # planted-secrets sweep: "found https://user:<password>@host/…" in a certification message and its mail).
    from offerflow_shared.sources import redact

    url = "https://user:S3CRETVALUE@h.example:8443/a/os.vhd?sig=S3CRETVALUE#f"
    assert redact(url) == logs.redact(url) == "https://h.example:8443/a/os.vhd"
