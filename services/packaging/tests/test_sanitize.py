from __future__ import annotations

from offerflow_packaging.sanitize import clean_html, safe_url


def test_scripts_and_their_content_are_removed() -> None:
    assert clean_html('<p>hi</p><script>alert("x")</script><style>p{}</style>') == "<p>hi</p>"


def test_event_handler_and_style_attributes_are_removed() -> None:
    out = clean_html('<p onclick="x()" style="color:red" class="c">a<img src=x onerror="alert(1)"></p>')
    assert out == "<p>a</p>"


def test_javascript_and_relative_links_lose_their_href() -> None:
    out = clean_html('<a href="javascript:alert(1)">j</a><a href="JaVaScRiPt:x">k</a><a href="/local">r</a>')
    assert "href" not in out
    assert "javascript" not in out.lower()


def test_http_links_are_kept_and_marked_nofollow() -> None:
    out = clean_html('<a href="https://contoso.example/x" target="_blank">x</a>')
    assert out == '<a href="https://contoso.example/x" rel="noopener noreferrer nofollow">x</a>'


def test_allowed_simple_tags_survive_and_others_are_unwrapped() -> None:
    html = "<h3>T</h3><h4>U</h4><ul><li><strong>s</strong><em>e</em></li></ul><ol><li><i>i</i><br></li></ol>"
    assert clean_html(html) == html
    assert clean_html("<div><span>text</span><h1>big</h1></div>") == "textbig"
    assert clean_html('<iframe src="https://evil.example">fallback</iframe>ok') == "ok"


def test_non_strings_become_empty() -> None:
    assert clean_html(None) == ""
    assert clean_html(42) == ""


def test_safe_url_only_keeps_absolute_http_urls() -> None:
    assert safe_url(" https://a.example/x.png ") == "https://a.example/x.png"
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("data:image/png;base64,AAA") is None
    assert safe_url("//a.example/x") is None
    assert safe_url(None) is None
