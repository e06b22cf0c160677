"""Web pages, feeds, PDFs and WARCs written for the tests in the shapes real news sites use.

Every story here is invented. Each page wraps its story in the furniture real pages carry (navigation,
cookie banner, adverts, captions, share buttons, "related stories" with their own dates, a comment
section with dated comments) so the tests can check that only the story comes out.
"""
from __future__ import annotations

import io
import json

# name -> (headline, ISO date, author, paragraphs); each story has words no other story uses.
STORIES: dict[str, tuple[str, str, str, list[str]]] = {
    "footbridge": (
        "Riverside council approves copper footbridge",
        "2024-03-05", "Mara Ellison",
        ["The Riverside town council voted seven to two on Tuesday to build a copper footbridge across "
         "the Wendle river, ending a planning dispute that had run for almost four years.",
         "The bridge will link the old tannery quarter with the railway station and is expected to cost "
         "4.2 million pounds, most of it paid by a regional transport grant.",
         "Councillor Agnes Thorpe, who chaired the planning committee, said the crossing would cut the "
         "walk from the station to the market square from twenty minutes to six.",
         "Construction is due to start in September and the footbridge should open to walkers and "
         "cyclists in the spring of the following year, the council said."]),
    "ferry": (
        "Harbour town launches solar ferry service",
        "2023-11-18", "Tomas Reyes",
        ["A solar-powered passenger ferry began carrying commuters across Calloway Bay on Saturday, the "
         "first service of its kind on the northern coast.",
         "The catamaran, named Sunstrider, carries up to eighty passengers and charges its batteries "
         "from panels on its roof and on the pier at Port Ellery.",
         "The operator said a crossing takes twenty-five minutes and costs the same as the bus that "
         "drives around the bay, which takes almost an hour at rush time.",
         "Fishermen in the harbour welcomed the quiet vessel, saying the old diesel boat had scared "
         "away the mackerel shoals near the breakwater."]),
    "orchard": (
        "Late frost ruins half of valley apricot harvest",
        "2022-04-27", "Lina Okafor",
        ["A late frost on two nights last week destroyed about half of the apricot blossom in the Sorrel "
         "valley, growers said on Wednesday.",
         "Temperatures fell to minus four degrees before dawn, and smudge pots and wind machines could "
         "only protect the lower orchards near the Brannock stream.",
         "The growers' cooperative estimates losses of around three million euros and has asked the "
         "regional government for emergency help for its two hundred members.",
         "Apricot prices in the valley markets are expected to rise by a third this summer."]),
    "library": (
        "Mountain village opens library in old railway carriage",
        "2021-08-09", "Piet Vandermeer",
        ["The village of Haldorf has turned a retired railway carriage into a public library, the first "
         "lending library in the mountain community for over sixty years.",
         "Volunteers spent eighteen months restoring the green carriage, which now holds four thousand "
         "books and a reading corner heated by a tiled stove.",
         "The carriage stands on a short length of track beside the former station, closed since the "
         "branch line stopped running in 1971.",
         "Children from the village school will visit the library every Thursday afternoon."]),
    "observatory": (
        "Amateur astronomers spot comet from school observatory",
        "2024-01-22", "Hana Sato",
        ["Two amateur astronomers using a school observatory in Kessington have discovered a faint new "
         "comet, the International Astronomical Union confirmed on Monday.",
         "The object, now catalogued with the names of both discoverers, was first seen on photographs "
         "taken through the school's thirty-centimetre telescope.",
         "Pupils at the school helped measure the comet's position on three following nights, which "
         "allowed its orbit to be calculated.",
         "The comet should remain visible through binoculars until the end of February."]),
    "bakery": (
        "Bakery cooperative reopens after flood repairs",
        "2023-06-14", "Owen Pryce",
        ["The Millbrook bakery cooperative reopened its doors on Wednesday, nine months after floodwater "
         "filled its cellar and destroyed its two wood-fired ovens.",
         "Members rebuilt the ovens with bricks salvaged from the old town granary and raised the floor "
         "of the shop by forty centimetres.",
         "The cooperative's rye loaf, baked to a recipe from 1904, sold out within an hour of opening.",
         "Insurers paid for most of the repairs, and a street festival raised the rest."]),
    # For the folder of every format (tests/test_format_corpus.py): one story per reader.
    "museum": (
        "Lighthouse museum buys keeper's logbooks at auction",
        "2022-09-12", "Ruth Calder",
        ["The Grennock lighthouse museum has bought eleven logbooks kept by the lighthouse's keepers "
         "between 1880 and 1932, paying 18,500 pounds at an auction in Edinburgh.",
         "The logbooks record every passing ship, storm and lamp repair, and mention the wreck of the "
         "schooner Marigold on the Skellan rocks in 1899.",
         "The museum's curator, Fergus Boyle, said the books would be scanned and shown in a glass case "
         "beside the old foghorn from next spring.",
         "Volunteers will transcribe the handwritten entries over the winter."]),
    "tram": (
        "Hill city reopens cable tram after restoration",
        "2023-05-02", "Dario Bellucci",
        ["The funicular tram that climbs from the harbour to the cathedral square in Montevara reopened "
         "on Monday after a two-year restoration costing 9 million euros.",
         "Its two wooden cars, built in 1912, now run on a new steel cable and carry 60 riders each on "
         "the 340-metre climb.",
         "The city's transport office said a one-way ride will cost one euro fifty and take four "
         "minutes, the same as before the line closed.",
         "Shopkeepers on the cathedral square had complained that visitor numbers fell by a third "
         "while the tram was shut."]),
    "choir": (
        "Prison choir wins national singing contest",
        "2021-11-30", "Greta Lindqvist",
        ["A choir of twenty-two inmates from Halvik prison won the national amateur choir contest on "
         "Sunday, singing a folk song arranged by their conductor, Ines Marlow.",
         "The judges praised the choir's four-part harmonies and awarded it 94 points out of a hundred.",
         "The prison's governor said the choir had rehearsed twice a week for three years in the "
         "chapel.",
         "The prize, a recording session at the national radio studio, will take place in March."]),
    "glacier": (
        "Glacier survey finds ice field shrank by a fifth",
        "2024-02-19", "Nils Arvidsen",
        ["A survey of the Breivatn ice field found that it has lost a fifth of its area since 2004, "
         "geologists from the northern university said on Monday.",
         "The team flew drones over the glacier for six weeks last summer and compared the images with "
         "aerial photographs taken twenty years ago.",
         "The ice field's tongue has retreated 1.3 kilometres up the valley, leaving a new lake where "
         "reindeer herders once crossed the ice.",
         "The geologists will repeat the survey every five years."]),
    "chess": (
        "Twelve-year-old wins city chess championship",
        "2023-03-27", "Priya Natarajan",
        ["Twelve-year-old Lucas Ferreira won the Porto Alegre city chess championship on Sunday, "
         "beating the defending champion in the final round.",
         "Ferreira, who learned the game from his grandmother, scored eight points from nine games and "
         "did not lose a game in the tournament.",
         "The organisers said he is the youngest winner in the championship's fifty-year history.",
         "He will represent the city at the national youth championship in July."]),
    "beekeepers": (
        "Rooftop beekeepers harvest first city honey",
        "2022-07-08", "Colette Amari",
        ["Beekeepers on the roof of the Lindenhof town hall harvested their first honey on Thursday, "
         "taking 46 kilograms from six hives placed there last spring.",
         "The bees forage in the lime trees along the canal and in the botanical garden two streets "
         "away, the beekeepers' association said.",
         "Jars of the honey will be sold at the town hall's Christmas market, with the money going to "
         "the association's school visits.",
         "The association plans to add four more hives next year."]),
}

NAV = ('<header><nav class="menu"><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>'
       '<li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li>'
       '<li><a href="/subscribe">Subscribe</a></li></ul></nav></header>')
COOKIE = ('<div id="cookie-banner" class="cookie-consent"><p>We use cookies to improve your experience and '
          'to show personalised advertising. By continuing to browse you accept our cookie policy.</p>'
          '<button>Accept all cookies</button></div>')
AD = '<div class="advert ad-slot"><p>ADVERTISEMENT</p><p>Get 50% off your first month of premium meal kits!</p></div>'
SHARE = ('<div class="share-tools"><a href="#">Share on Facebook</a> <a href="#">Share on Twitter</a> '
         '<a href="#">Email this article</a></div>')
FOOTER = ('<footer><p>Copyright 2024 The Gazette Media Group. All rights reserved.</p><ul><li><a href="/about">'
          'About us</a></li><li><a href="/privacy">Privacy policy</a></li></ul></footer>')


def related(dated: bool = True) -> str:
    """A "related stories" block whose links carry dates older than any story's own."""
    items = [("Council postpones bridge vote again", "2019-02-11"),
             ("Opinion: the river needs a crossing", "2018-07-30"),
             ("Station car park to close for repairs", "2017-05-02")]
    lis = "".join(f'<li><a href="/news/{d.replace("-", "/")}/item">{t}</a>'
                  + (f' <time datetime="{d}">{d}</time>' if dated else "") + "</li>" for t, d in items)
    return f'<aside class="related-stories"><h3>Related stories</h3><ul>{lis}</ul></aside>'


def comments() -> str:
    """A comment section with dated comments."""
    rows = [("RiverWalker", "2016-03-14", "About time! I have waited years for this crossing to be built."),
            ("Sceptic42", "2016-03-15", "Another vanity project paid for by taxpayers, mark my words.")]
    body = "".join(f'<li class="comment"><div class="comment-author">{who}</div>'
                   f'<time class="comment-date" datetime="{d}T10:00:00Z">{d}</time><p>{text}</p></li>'
                   for who, d, text in rows)
    return f'<section id="comments" class="comments"><h3>2 comments</h3><ol class="comment-list">{body}</ol></section>'


def _body(paragraphs: list[str], caption: bool = True) -> str:
    figure = ('<figure><img src="/img/photo.jpg" alt=""><figcaption>The site of the planned works, seen from '
              'the north bank. Photo: Gazette staff</figcaption></figure>') if caption else ""
    paras = [f"<p>{p}</p>" for p in paragraphs]
    return paras[0] + figure + AD + "".join(paras[1:])


def _page(head: str, article: str, extra: str = "", lang: str = "en") -> str:
    return (f'<!DOCTYPE html><html lang="{lang}"><head>{head}</head><body>{COOKIE}{NAV}'
            f'<main>{article}{SHARE}{related()}{comments()}</main>{extra}{FOOTER}</body></html>')


def jsonld_page(key: str = "footbridge", site: str = "The Riverside Gazette",
                url: str = "https://gazette.example/news/copper-footbridge") -> str:
    """JSON-LD NewsArticle with headline, dates, author and publisher; a canonical link."""
    title, date, author, paragraphs = STORIES[key]
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": title,
          "datePublished": f"{date}T08:30:00+00:00", "dateModified": f"{date}T12:00:00+00:00",
          "author": {"@type": "Person", "name": author},
          "publisher": {"@type": "Organization", "name": site}, "mainEntityOfPage": url}
    head = (f'<meta charset="utf-8"><title>{title} | {site}</title><link rel="canonical" href="{url}">'
            f'<script type="application/ld+json">{json.dumps(ld)}</script>')
    article = (f'<article><h1>{title}</h1><p class="byline">By {author}</p>{_body(paragraphs)}</article>')
    return _page(head, article)


def opengraph_page(key: str = "ferry", site: str = "Coastal Daily",
                   url: str = "https://coastal.example/2023/11/solar-ferry") -> str:
    """Open Graph and article:* meta tags only, no JSON-LD."""
    title, date, author, paragraphs = STORIES[key]
    head = (f'<meta charset="utf-8"><title>{title} - {site}</title>'
            f'<meta property="og:title" content="{title}"><meta property="og:site_name" content="{site}">'
            f'<meta property="og:url" content="{url}"><meta property="og:type" content="article">'
            f'<meta property="article:published_time" content="{date}T06:00:00Z">'
            f'<meta name="author" content="{author}">')
    article = f'<div class="story"><h1>{title}</h1>{_body(paragraphs)}</div>'
    return _page(head, article)


def plain_page(key: str = "orchard", date_style: str = "text") -> str:
    """No metadata at all: the date appears in the story's own dateline (or not at all)."""
    title, date, author, paragraphs = STORIES[key]
    y, m, d = date.split("-")
    month = "January February March April May June July August September October November December".split()[int(m) - 1]
    dateline = f'<p class="dateline">Published {int(d)} {month} {y}</p>' if date_style == "text" else ""
    article = f'<div id="content"><h1>{title}</h1><p>By {author}</p>{dateline}{_body(paragraphs)}</div>'
    return _page(f"<title>{title}</title>", article)


def boilerplate_page(key: str = "library") -> str:
    """A short story drowned in furniture: mega-menu, newsletter box, trending list, long footer."""
    title, date, author, paragraphs = STORIES[key]
    menu = "".join(f'<li><a href="/section/{i}">Section {i} news and features</a></li>' for i in range(40))
    trending = "".join(f'<li><a href="/t/{i}">Trending story number {i} that everyone is reading today</a></li>'
                       for i in range(12))
    newsletter = ('<div class="newsletter-signup"><h3>Sign up for our morning briefing</h3><p>Get the day\'s top '
                  'stories delivered to your inbox every morning. You can unsubscribe at any time.</p>'
                  '<input type="email"><button>Sign up</button></div>')
    head = (f'<meta charset="utf-8"><title>{title}</title>'
            f'<meta property="article:published_time" content="{date}">'
            f'<meta property="og:site_name" content="Alpine Courier">')
    article = (f'<nav class="mega-menu"><ul>{menu}</ul></nav><article><h1>{title}</h1><span class="author">'
               f'{author}</span>{_body(paragraphs)}{newsletter}</article>'
               f'<aside class="trending"><h3>Trending</h3><ol>{trending}</ol></aside>')
    return _page(head, article)


def paywall_page(key: str = "observatory") -> str:
    """A paywall stub: the first paragraph, then a subscription prompt."""
    title, date, author, paragraphs = STORIES[key]
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": title, "datePublished": date,
          "isAccessibleForFree": False, "author": [{"@type": "Person", "name": author}],
          "description": paragraphs[0]}
    head = (f'<meta charset="utf-8"><title>{title}</title>'
            f'<meta name="description" content="{paragraphs[0]}">'
            f'<script type="application/ld+json">{json.dumps(ld)}</script>')
    article = (f'<article><h1>{title}</h1><p>{paragraphs[0]}</p><div class="subscribe-prompt"><h2>Subscribe to keep '
               f'reading</h2><p>This article is for subscribers only. Subscribe now for unlimited access to '
               f'award-winning journalism from just 1 pound a week.</p><a href="/subscribe">Subscribe</a> '
               f'<a href="/login">Log in</a></div></article>')
    return _page(head, article)


def two_articles_page(keys: tuple[str, str] = ("library", "bakery")) -> str:
    """One page carrying two full stories (a regional round-up), each in its own <article>."""
    parts = []
    for key in keys:
        title, date, author, paragraphs = STORIES[key]
        parts.append(f'<article class="story"><h2>{title}</h2><p class="byline">By {author}, '
                     f'<time datetime="{date}">{date}</time></p>'
                     + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article>")
    head = '<meta charset="utf-8"><title>Regional round-up</title><meta property="og:site_name" content="Valley News">'
    return _page(head, f'<h1>Regional round-up</h1>{"".join(parts)}')


def charset_page(encoding: str = "windows-1252") -> bytes:
    """A page declared (in a meta tag only) and encoded in a legacy charset, with accents and curly quotes."""
    title = "Caf\u00e9 owners fight \u201cna\u00efve\u201d parking plan"
    paragraphs = [
        "The owners of six caf\u00e9s on the Rue Sainte-H\u00e9l\u00e8ne said on Monday that the council\u2019s "
        "parking plan was \u201cna\u00efve\u201d and would drive customers away from the old quarter.",
        "Under the plan, the pavement terraces would lose their summer permits and the street would become "
        "a loading zone for delivery vans between seven and eleven o\u2019clock every morning.",
        "Jos\u00e9 Mart\u00ednez, who has run the Caf\u00e9 du Pont for twenty years, said his terrace seats half of "
        "his customers and that a petition against the plan had collected two thousand signatures.",
        "The council will hold a public hearing on the plan next month."]
    head = (f'<meta http-equiv="Content-Type" content="text/html; charset={encoding}"><title>{title}</title>'
            '<meta property="article:published_time" content="2022-09-12T09:00:00+02:00">')
    article = f'<article><h1>{title}</h1>' + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article>"
    return _page(head, article).encode(encoding)


def undated_page(key: str = "bakery") -> str:
    """A story with no date of its own, whose related links and comments do carry dates."""
    title, _, author, paragraphs = STORIES[key]
    article = f'<article><h1>{title}</h1><p class="byline">By {author}</p>{_body(paragraphs)}</article>'
    return _page(f"<meta charset='utf-8'><title>{title}</title>", article)


def url_dated_page(key: str = "ferry") -> str:
    """No date in the metadata or the text; the canonical URL carries it."""
    title, date, author, paragraphs = STORIES[key]
    url = f"https://coastal.example/news/{date.replace('-', '/')}/solar-ferry"
    head = f'<meta charset="utf-8"><title>{title}</title><link rel="canonical" href="{url}">'
    article = f'<div class="story"><h1>{title}</h1>{_body(paragraphs)}</div>'
    return _page(head, article)


# page name -> (html, expected date or None): the dated fixtures the date goal is measured on.
def dated_pages() -> dict[str, tuple[str | bytes, str | None]]:
    """Every fixture page with the publication date a reader should find (None: the page has none)."""
    return {
        "jsonld.html": (jsonld_page(), STORIES["footbridge"][1]),
        "opengraph.html": (opengraph_page(), STORIES["ferry"][1]),
        "plain.html": (plain_page(), STORIES["orchard"][1]),
        "boilerplate.html": (boilerplate_page(), STORIES["library"][1]),
        "paywall.html": (paywall_page(), STORIES["observatory"][1]),
        "charset.html": (charset_page(), "2022-09-12"),
        "url_dated.html": (url_dated_page(), STORIES["ferry"][1]),
        "undated.html": (undated_page(), None),
        "plain_undated.html": (plain_page("orchard", date_style="none"), None),
    }


def rss_feed() -> str:
    """An RSS 2.0 feed of two stories, one with full content, one with a summary only."""
    items = []
    for key, full in (("orchard", True), ("library", False)):
        title, date, author, paragraphs = STORIES[key]
        y, m, d = date.split("-")
        pub = f"Mon, {d} {'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split()[int(m) - 1]} {y} 07:00:00 GMT"
        content = ("<content:encoded><![CDATA[" + "".join(f"<p>{p}</p>" for p in paragraphs) + "]]></content:encoded>"
                   if full else "")
        items.append(f"<item><title>{title}</title><link>https://valley.example/{key}</link>"
                     f"<guid>https://valley.example/{key}</guid><pubDate>{pub}</pubDate>"
                     f"<dc:creator>{author}</dc:creator><description>{paragraphs[0]}</description>{content}</item>")
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            '<channel><title>Valley Times</title><link>https://valley.example/</link>'
            '<description>News from the valley</description>' + "".join(items) + "</channel></rss>")


def atom_feed() -> str:
    """An Atom feed of two stories with HTML content."""
    entries = []
    for key in ("observatory", "bakery"):
        title, date, author, paragraphs = STORIES[key]
        html = "".join(f"<p>{p}</p>" for p in paragraphs).replace("<", "&lt;").replace(">", "&gt;")
        entries.append(f'<entry><title>{title}</title><link rel="alternate" href="https://dispatch.example/{key}"/>'
                       f"<id>tag:dispatch.example,{date}:{key}</id><published>{date}T09:00:00Z</published>"
                       f"<updated>{date}T10:00:00Z</updated><author><name>{author}</name></author>"
                       f'<content type="html">{html}</content></entry>')
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            '<title>The Evening Dispatch</title><id>tag:dispatch.example,2024:feed</id>'
            '<updated>2024-01-22T10:00:00Z</updated>' + "".join(entries) + "</feed>")


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def pdf_bytes(lines: list[str], title: str | None = None, date: str | None = None, encrypt: str | None = None,
              pages: int = 1, text: bool = True) -> bytes:
    """A small PDF, written by hand, with `lines` of Helvetica text on each page (a painted box when not `text`)."""
    if text:
        ops = ["BT", "/F1 11 Tf", "14 TL", "56 780 Td", *(f"{_pdf_string(line)} Tj T*" for line in lines), "ET"]
    else:  # a grey rectangle where a scan would be: no text operators at all
        ops = ["0.5 g", "56 200 480 580 re f"]
    content = "\n".join(ops).encode("cp1252")
    kids = " ".join(f"{4 + 2 * k} 0 R" for k in range(pages))
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    for k in range(pages):
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
                       f"/Contents {5 + 2 * k} 0 R >>")
        objects.append(f"<< /Length {len(content)} >>\nstream\n" + content.decode("cp1252") + "\nendstream")
    info = []
    if title:
        info.append(f"/Title {_pdf_string(title)}")
    if date:
        info.append(f"/CreationDate (D:{date.replace('-', '')}080000Z)")
    objects.append("<< " + " ".join(info) + " >>")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode("cp1252")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    if not encrypt:
        return bytes(out)
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(bytes(out))))
    writer.encrypt(user_password=encrypt, owner_password=encrypt, algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def story_pdf(key: str = "library", with_meta: bool = True) -> bytes:
    """A one-page PDF of a story: metadata title and date, or only the headline and dateline as first lines."""
    title, date, author, paragraphs = STORIES[key]
    lines = [] if with_meta else [title, f"By {author}, {date}", ""]
    for p in paragraphs:  # wrap at about 90 characters, a paragraph gap after each
        words, line = p.split(), ""
        for w in words:
            if len(line) + len(w) > 90:
                lines.append(line)
                line = ""
            line = f"{line} {w}".strip()
        lines += [line, ""]
    return pdf_bytes(lines, title=title if with_meta else None, date=date if with_meta else None)


def warc_bytes(records: list[tuple[str, str | bytes, str]], gz: bool = True, broken: int | None = None) -> bytes:
    """A WARC of response records (url, body, content type); record number `broken` (0-based) is corrupted."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    parts = []
    for k, (url, body, ctype) in enumerate([(None, None, None), *records]):
        out = io.BytesIO()
        writer = WARCWriter(out, gzip=gz)
        if k == 0:
            writer.write_record(writer.create_warcinfo_record("test.warc", {"software": "tests"}))
        else:
            data = body.encode("utf-8") if isinstance(body, str) else body
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(data),
                                                          http_headers=headers))
        raw = bytearray(out.getvalue())
        if broken is not None and k == broken + 1:  # garble the record as a bad disk or an aborted copy would
            if gz:
                mid = len(raw) // 2
                raw[mid:mid + 16] = b"\x00" * 16
            else:
                raw[:8] = b"XXXX/1.0"
        parts.append(bytes(raw))
    return b"".join(parts)


def write_docx(path, key: str = "bakery") -> None:
    """A Word file at `path` holding story `key`: its title as a heading, the byline, the date, the paragraphs."""
    import docx

    title, date, author, paragraphs = STORIES[key]
    document = docx.Document()
    document.add_heading(title, level=1)
    document.add_paragraph(f"By {author}")
    document.add_paragraph(date)
    for p in paragraphs:
        document.add_paragraph(p)
    document.save(path)
