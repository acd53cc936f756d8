"""The RSS plugin's ``local`` analyzer on articles a reader can judge, and on any text at all.

The articles are written for these tests (news-like, several paragraphs, each in its own
language) so that the sentence a reader would keep is unambiguous: it is not the first one,
which opens on an anecdote, so a lead-only summary fails. Sentence splitting is checked on the
cases that trip naive splitters; a Hypothesis property runs arbitrary text through the whole
analyzer. Examples are derandomised (STYLE 12).
"""

from __future__ import annotations

import pickle
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.plugins.rss import _local as local
from shoal.plugins.rss._analysis import Analysis, ArticleText
from shoal.plugins.rss._local import (
    _ENTRY_CACHE,
    _STOPWORDS,
    _split_sentences,
    analyze_local,
)

EN_TITLE = "Kestrel Bay approves Europe's largest battery recycling plant"
EN_CENTRAL = (
    "On Tuesday the Kestrel Bay council approved a $400 million battery recycling plant that "
    "will recover lithium, nickel and cobalt from 50,000 tonnes of used electric-car batteries "
    "a year, the largest such plant in Europe."
)
EN = f"""Maria Lindqvist has fished the grey waters off the northern coast for thirty years. \
Each morning she still checks the wind before she checks her phone. Lately, though, the talk \
at the harbour café has been about something other than cod.

{EN_CENTRAL} The vote ended a two-year debate over jobs, water and traffic in the town of \
12,000 people.

The plant will be built by Voltcycle, a start-up founded by two former engineers at a car \
maker. Voltcycle says its process recovers 95% of the lithium in a battery pack, compared with \
about half for older smelting methods. Shredded battery cells are soaked in a water-based \
solution instead of being burned, which the company says cuts emissions by two thirds.

Not everyone is convinced. A residents' group, Clean Bay, argued that the recycling plant would \
draw too much water from the river and bring hundreds of trucks through the town centre every \
week. "We are not against recycling batteries," said its spokesperson, Dr. Erik Moen. "We are \
against doing it next to the school." The council answered that trucks will use a new access \
road and that the plant will reuse 90% of its water.

Demand for recycled lithium is rising fast. The European Union requires new batteries to \
contain a minimum share of recycled lithium, nickel and cobalt from 2031, and carmakers are \
signing supply deals years in advance. Analysts expect the volume of used electric-car \
batteries in Europe to grow tenfold by 2035.

Construction is to begin in the spring, and Voltcycle expects to hire 300 workers, many of \
them from the fishing industry. Lindqvist says she will keep her boat. "But my son has already \
applied," she said.
"""

DE_TITLE = "Freiburg baut eine Seilbahn für den Nahverkehr"
DE_CENTRAL = (
    "Der Gemeinderat von Freiburg hat am Dienstag beschlossen, eine Seilbahn vom Rieselfeld "
    "über den Hauptbahnhof bis zur Universität zu bauen, die ab 2029 täglich bis zu 20.000 "
    "Fahrgäste befördern soll."
)
DE = f"""Wer morgens aus dem Stadtteil Rieselfeld in die Innenstadt will, braucht mit dem Bus \
oft mehr als eine halbe Stunde. An manchen Tagen stehen die Fahrgäste schon an der ersten \
Haltestelle im Regen, weil der Bus wieder im Stau steckt.

{DE_CENTRAL} Die Seilbahn wird Teil des städtischen Nahverkehrs, Fahrkarten für Bus und \
Straßenbahn gelten auch in den Kabinen.

Die Strecke ist 4,2 Kilometer lang und hat fünf Stationen. Die Kabinen sollen alle 30 Sekunden \
abfahren, die Fahrt vom Rieselfeld zur Universität dauert nach Angaben der Verkehrsbetriebe \
nur 14 Minuten. Die Baukosten werden auf 95 Millionen Euro geschätzt, das Land übernimmt rund \
60 Prozent.

Kritik kommt von Anwohnern in der Wiehre, über deren Häuser die Seilbahn fahren würde. Sie \
fürchten Lärm und Blicke in ihre Gärten. Die Stadt verspricht, dass man aus den Kabinen nicht \
in die Fenster sehen kann und die Seilbahn leiser ist als der Busverkehr.

Ähnliche Seilbahnen fahren bereits in La Paz, Toulouse und Koblenz. Die Verkehrsbetriebe \
rechnen damit, dass viele Pendler ihr Auto stehen lassen, wenn die Seilbahn z.B. bei Regen \
zuverlässiger ist als der Bus.
"""

FR_TITLE = "Lyon ferme aux voitures les rues devant ses écoles"
FR_CENTRAL = (
    "La ville de Lyon a annoncé lundi qu'elle fermera aux voitures les rues devant ses 150 "
    "écoles primaires aux heures d'entrée et de sortie des élèves, à partir de la rentrée de "
    "septembre."
)
FR = f"""Chaque matin, devant l'école Jean-Macé, les parents se garent en double file et les \
enfants slaloment entre les pare-chocs. Les klaxons couvrent les cris de la cour de récréation.

{FR_CENTRAL} Des barrières mobiles seront installées et gérées par des agents municipaux.

Selon la mairie, la pollution de l'air devant les écoles dépasse souvent les seuils \
recommandés par l'Organisation mondiale de la santé. Une étude menée l'an dernier a mesuré des \
niveaux de dioxyde d'azote deux fois plus élevés aux heures de pointe.

Les commerçants craignent une baisse de leur chiffre d'affaires, car certains clients ne \
pourront plus se garer devant leurs boutiques. « Nous ne sommes pas contre la sécurité des \
enfants, mais il faut des places de livraison », explique M. Durand, boulanger dans le 7e \
arrondissement.

D'autres villes, comme Paris et Grenoble, ont déjà fermé des rues scolaires. À Lyon, les \
premières rues seront fermées aux voitures dès le mois de mars, à titre d'essai.
"""

JA_TITLE = "東京都、都立公園に太陽光パネルを設置へ"
JA_CENTRAL = (
    "東京都は十日、都内の百か所の都立公園に太陽光パネルを設置し、"
    "発電した電気で公園の照明をまかなう計画を発表した。"
)
JA = (
    "春の公園には、花見を楽しむ家族連れの姿が見られた。"
    f"{JA_CENTRAL}"
    "太陽光パネルは屋根付きの休憩所や駐車場に取り付けられ、景観への影響を抑えるという。"
    "都の担当者は「公園の電気を公園でつくる仕組みを広げたい」と話している。\n\n"
    "一方、一部の住民からは、パネルの設置で公園の緑が減るのではないかと心配する声も出ている。"
)

RU_TITLE = "В Казани открыли новую линию метро"
RU_CENTRAL = (
    "В Казани в субботу открыли вторую линию метро длиной 12 километров, которая соединила "
    "спальные районы на юге города с центром и железнодорожным вокзалом."
)
RU = f"""Утром на станции «Суконная слобода» было многолюдно: жители пришли посмотреть на \
новые поезда. {RU_CENTRAL}

На линии шесть станций, поезда метро будут ходить каждые четыре минуты. Строительство обошлось \
городу в 60 млрд рублей, часть денег выделил федеральный бюджет.

По словам мэра, новая линия метро вдвое сократит время поездки из южных районов до центра. \
Некоторые жители жалуются на шум от стройки, который продолжался почти пять лет.
"""

# A feature of about a thousand words, the size the analyzer is tuned for.
LONG_EN_TITLE = "Night trains are back, and Europe's railways cannot build sleepers fast enough"
LONG_EN = """\
At ten past nine in the evening, platform 7 at Vienna's main station fills with a particular \
kind of traveller. There are students with rucksacks, a couple carrying a sleeping toddler, a \
man in a suit who has hung his jacket on the door of a compartment as if it were a hotel room. \
By the time the train reaches the Alps, most of them will be asleep.

Night trains, written off a decade ago as slow, expensive and old-fashioned, are back. Across \
Europe, rail operators have launched more than 40 new overnight routes since 2020, and the \
demand for sleeper berths now exceeds the number of carriages that factories can deliver. The \
revival has been driven by travellers who want to avoid short flights, by governments that \
subsidise rail to cut emissions, and by a new generation of carriages with private cabins.

The Austrian operator ÖBB, which kept running sleeper trains when others gave up, is the \
largest player. Its Nightjet network now links Vienna, Munich, Zurich and Hamburg with Rome, \
Amsterdam, Paris and Brussels. The company says its trains carried 1.5 million passengers last \
year, up from 1.1 million in 2019, and that many routes are fully booked weeks ahead during \
the summer.

New companies have followed. European Sleeper, a Dutch-Belgian cooperative founded by two \
railway enthusiasts, began running a train between Brussels and Berlin in 2023 and has since \
extended it to Prague. Its founders raised money from thousands of small investors rather than \
banks. "People told us the night train was dead," one of them said. "They were wrong about the \
passengers, but right about how hard it is to find carriages."

That shortage is now the main obstacle. Building a sleeper carriage takes longer and costs \
more than building a day coach, because each one must fit beds, washrooms and sometimes \
showers into a body that still meets the crash standards of several countries. Only a handful \
of factories in Europe build them. ÖBB ordered 33 new Nightjet trains from Siemens in 2018; \
the last of them are not expected before 2026. Smaller operators rent old carriages, some \
built in the 1970s, and refurbish them as best they can.

Old carriages are not the only problem. A night train crosses borders, and each country has \
its own signalling system, its own rules for drivers and its own charges for using the track. \
On some routes the charges for a single night train are higher than the fares paid by half of \
its passengers. Operators also need paths through busy stations late at night, when \
maintenance crews often close lines for repairs.

Governments have started to help. France reopened its Paris to Nice night train in 2021 with \
state support, and the German government cut the value-added tax on long-distance rail \
tickets. The European Commission has published guidelines that encourage countries to lower \
track charges for international trains, and it has proposed a single booking platform so that \
passengers can buy one ticket for a journey that crosses several networks. Campaigners say \
that is still too slow. "You can book a flight to anywhere in Europe in two minutes," said a \
spokesperson for Back on Track, a group that lobbies for sleeper services. "Booking a night \
train across three countries can take an afternoon."

The environmental case is strong, at least on paper. A passenger on a night train from Vienna \
to Rome is responsible for a small fraction of the carbon dioxide of the same trip by plane, \
according to calculations by the operators, although the figure depends on how the electricity \
is produced. Researchers point out that night trains replace mainly short and medium flights, \
which are the least efficient per kilometre, because take-off uses so much fuel.

Price is a harder argument. A bed in a shared couchette can cost less than a hotel room, but a \
private sleeper cabin for two often costs more than two budget airline tickets. Operators say \
that comparison ignores the hotel night that a traveller saves, and the time spent getting to \
and from airports. Travellers on the Vienna platform gave mixed answers. The student couple \
had chosen the couchette because it was cheaper than a flight and a hostel. The man in the \
suit said his company now requires employees to take the train for trips under eight hours.

The new carriages are meant to win over the sceptics. Nightjet's latest trains include \
"mini cabins", capsules for a single traveller inspired by Japanese hotels, with a lockable \
door, a phone charger and a small window. Families can book a compartment with six \
couchettes, and every sleeper cabin has its own washroom. Early reviews have been positive, \
although some passengers complained that the capsules were too short for tall people.

Not every revival has lasted. A private operator that started a night train between Stockholm \
and Berlin ran into financial trouble and had to be rescued by the Swedish state. Another \
company cancelled plans for a service from Amsterdam to Barcelona after failing to secure \
carriages. Analysts warn that night trains will stay a niche unless operators can run them \
every day, all year, rather than only at weekends and in the summer.

Still, the direction is clear. The European Union wants passenger rail traffic on \
high-speed lines to double by 2030, and night trains are part of that plan. Several countries \
have announced new routes for the next few years, including links from Berlin to Stockholm, \
from Amsterdam to Milan and from Paris to Madrid. If the carriages arrive on time, the number \
of overnight connections could double again before the end of the decade.

As the Vienna train pulls out, the conductor walks along the corridor, collecting tickets and \
taking breakfast orders for the morning. Coffee or tea, a roll with butter and jam. By six the \
train will be in Italy, and most of its passengers will wake up somewhere new.
"""

ARTICLES = {
    "en": (EN_TITLE, EN, EN_CENTRAL),
    "de": (DE_TITLE, DE, DE_CENTRAL),
    "fr": (FR_TITLE, FR, FR_CENTRAL),
    "ja": (JA_TITLE, JA, JA_CENTRAL),
    "ru": (RU_TITLE, RU, RU_CENTRAL),
}


def _article(text: str, title: str | None = None) -> ArticleText:
    return ArticleText(url="https://news.example.org/a", title=title, text=text)


@cache
def _analysis(lang: str) -> Analysis:
    title, text, _ = ARTICLES[lang]
    return analyze_local(_article(text, title))


def _selection(summary: str, sentences: list[str], most: int) -> list[str] | None:
    """The sentences, in document order and at most ``most`` of them, whose join (by a space,
    or by nothing after a CJK full stop) is ``summary``; None if there are none."""

    def search(at: int, start: int, left: int) -> list[str] | None:
        if at == len(summary):
            return []
        if left == 0:
            return None
        for i in range(start, len(sentences)):
            sentence = sentences[i]
            if summary.startswith(sentence, at):
                end = at + len(sentence)
                if end < len(summary) and summary[end] == " " and sentence[-1] not in "。！？｡":
                    end += 1
                rest = search(end, i + 1, left - 1)
                if rest is not None:
                    return [sentence, *rest]
        return None

    return search(0, 0, most) if summary else []


# ---------------------------------------------------------------------------------------------
# The articles


@pytest.mark.parametrize("lang", sorted(ARTICLES))
def test_summary_is_the_texts_sentences_in_order_with_the_central_one(lang: str) -> None:
    _, text, central = ARTICLES[lang]
    analysis = _analysis(lang)
    picked = _selection(analysis.summary, _split_sentences(text), most=3)
    assert picked is not None, analysis.summary
    assert len(picked) == 3
    assert central in picked
    # Not the lead-3 baseline: the anecdote that opens each article is not the point.
    assert picked != _split_sentences(text)[:3]


@pytest.mark.parametrize("lang", sorted(ARTICLES))
def test_language_is_detected(lang: str) -> None:
    assert _analysis(lang).language == lang


@pytest.mark.parametrize(
    ("lang", "topic"),
    [
        ("en", ["battery", "recycling", "lithium", "kestrel bay", "voltcycle"]),
        ("de", ["seilbahn", "kabinen", "rieselfeld"]),
        ("fr", ["voiture", "école", "rues", "lyon"]),
        ("ja", ["公園", "太陽光", "パネル"]),
        ("ru", ["метро", "казани"]),
    ],
)
def test_keywords_hold_the_topic_and_no_stopwords(lang: str, topic: list[str]) -> None:
    keywords = _analysis(lang).keywords
    assert len(keywords) == 8
    for term in topic:
        assert any(term in keyword for keyword in keywords), (term, keywords)
    stopwords = _STOPWORDS[lang]
    for keyword in keywords:
        assert keyword == keyword.lower()
        assert not set(keyword.split()) & stopwords, keyword
        assert not keyword.replace(" ", "").isdigit()


@pytest.mark.parametrize("lang", sorted(ARTICLES))
def test_keywords_are_not_substrings_of_one_another(lang: str) -> None:
    keywords = _analysis(lang).keywords
    assert len(set(keywords)) == len(keywords)
    for a in keywords:
        for b in keywords:
            if a != b:
                assert f" {a} " not in f" {b} ", (a, b)
                if lang == "ja":
                    assert a not in b, (a, b)


def test_english_keywords_rank_the_subject_first() -> None:
    # What the article is about comes before what it mentions on the way.
    keywords = _analysis("en").keywords
    assert keywords[0] in {"battery", "battery recycling", "recycling", "plant"}
    assert "kestrel bay" in keywords  # a name from the title, not its parts "kestrel", "bay"
    assert "bay" not in keywords and "kestrel" not in keywords


def test_a_long_feature() -> None:
    analysis = analyze_local(_article(LONG_EN, LONG_EN_TITLE), sentences=4, keywords=10)
    sentences = _split_sentences(LONG_EN)
    picked = _selection(analysis.summary, sentences, most=4)
    assert picked is not None and len(picked) == 4
    assert analysis.language == "en"
    assert any("night train" in keyword for keyword in analysis.keywords), analysis.keywords
    assert any(keyword.startswith("carriage") for keyword in analysis.keywords)
    # The nut graf (the second paragraph, after the scene on the platform), which says what
    # the whole piece is about, is in; the scene is not.
    nut_graf = _split_sentences(LONG_EN.split("\n\n")[1])
    assert set(picked) & set(nut_graf)
    assert not set(picked) & set(_split_sentences(LONG_EN.split("\n\n")[0]))
    assert analysis.words == len(LONG_EN.split())
    assert analysis.reading_minutes == round(analysis.words / 230, 1)


def test_the_result_says_who_made_it() -> None:
    analysis = _analysis("en")
    assert analysis.analyzer == "local"
    assert analysis.tokens == 0
    # It travels back from a process-pool worker.
    assert pickle.loads(pickle.dumps(analysis)) == analysis
    assert pickle.loads(pickle.dumps(analyze_local)) is analyze_local


def test_summary_and_keyword_counts_follow_the_arguments() -> None:
    one = analyze_local(_article(EN, EN_TITLE), sentences=1, keywords=3)
    assert one.summary == EN_CENTRAL
    assert len(one.keywords) == 3
    none = analyze_local(_article(EN, EN_TITLE), sentences=0, keywords=0)
    assert none.summary == "" and none.keywords == []
    assert none.words == one.words


def test_a_repeated_sentence_is_not_summarised_twice() -> None:
    repeated = EN.replace("Not everyone is convinced.", EN_CENTRAL)
    summary = analyze_local(_article(repeated, EN_TITLE)).summary
    assert summary.count(EN_CENTRAL) == 1


def test_a_text_shorter_than_the_summary_is_its_own_summary() -> None:
    text = "The bridge reopened on Monday after two years of repairs. Cars wait."
    analysis = analyze_local(_article("Repairs\n\n" + text))
    assert analysis.summary == text  # the short sentence in, the heading out
    assert analysis.keywords[0] == "repairs"  # in the heading and the text
    assert set(analysis.keywords) == {"repairs", "bridge", "reopened", "monday", "cars", "wait"}


def test_results_do_not_depend_on_what_was_analysed_before() -> None:
    # The per-process token table is a cache: it must never change an answer.
    _ENTRY_CACHE.clear()
    fresh = [analyze_local(_article(text, title)) for title, text, _ in ARTICLES.values()]
    for title, text, _ in reversed(ARTICLES.values()):
        analyze_local(_article(text.upper(), title))
    again = [analyze_local(_article(text, title)) for title, text, _ in ARTICLES.values()]
    assert again == fresh


def test_the_token_table_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [(EN_TITLE, EN), (LONG_EN_TITLE, LONG_EN), (EN_TITLE, EN)]
    expected = [analyze_local(_article(text, title)) for title, text in texts]
    monkeypatch.setattr(local, "_CACHE_TOKENS", 100)
    _ENTRY_CACHE.clear()
    assert [analyze_local(_article(text, title)) for title, text in texts] == expected
    # Replaced once past the bound, so it holds at most the bound plus one text's tokens.
    assert len(_ENTRY_CACHE["en"]) <= 100 + len(set(LONG_EN.split()))
    assert len(_ENTRY_CACHE["en"]) < len(set(EN.split()) | set(LONG_EN.split()))


# ---------------------------------------------------------------------------------------------
# Language


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("es", "El gobierno anunció ayer que la nueva línea de tren conectará la ciudad con el "
               "aeropuerto en menos de veinte minutos."),
        ("it", "Il comune ha deciso che il nuovo parco sarà aperto ai cittadini a partire dalla "
               "prossima primavera."),
        ("pt", "A prefeitura anunciou que as novas linhas de ônibus vão ligar os bairros da zona "
               "norte ao centro da cidade."),
        ("nl", "De gemeente heeft besloten dat de nieuwe brug over de rivier volgend jaar wordt "
               "geopend voor fietsers."),
        ("sv", "Regeringen meddelade i dag att det nya tåget mellan Stockholm och Oslo kommer att "
               "börja gå nästa år."),
        ("pl", "Władze miasta poinformowały, że nowa linia tramwajowa zostanie otwarta jeszcze w "
               "tym roku dla wszystkich mieszkańców."),
        ("uk", "Уряд України оголосив про нову програму підтримки, яка почне діяти з наступного "
               "року."),
        ("zh", "北京市政府今天宣布，将在全市新建五十个公园，并在明年春天向市民开放。"),
        ("ko", "서울시는 오늘 새로운 지하철 노선을 발표했다."),
        ("el", "Η κυβέρνηση ανακοίνωσε σήμερα νέα μέτρα για την ενέργεια."),
        ("he", "הממשלה הודיעה היום על תוכנית חדשה לתחבורה ציבורית."),
        ("ar", "أعلنت الحكومة اليوم عن خطة جديدة للنقل العام في المدينة."),
        ("en", "The museum will stay open late on Fridays during the summer."),
    ],
)  # fmt: skip
def test_language_of_a_sentence(lang: str, text: str) -> None:
    assert analyze_local(_article(text)).language == lang


@pytest.mark.parametrize("text", ["Hello", "OK, thanks!", "Voltcycle", "12 345", "日本", "—"])
def test_too_little_text_has_no_language(text: str) -> None:
    assert analyze_local(_article(text)).language is None


def test_an_english_text_quoting_other_scripts_is_english() -> None:
    text = (
        "The word for park is 公園 in Japanese, and the menu said борщ. "
        "Everyone at the table agreed that the soup was the best part of the evening."
    )
    assert analyze_local(_article(text)).language == "en"


# ---------------------------------------------------------------------------------------------
# Sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        # Titles, initialisms and decimals hold no end; "U.S." before a function word does.
        ("Dr. Smith arrived at 3.5 p.m. on Monday. He left early.",
         ["Dr. Smith arrived at 3.5 p.m. on Monday.", "He left early."]),
        ("The U.S. economy grew 2.1% in the quarter, e.g. faster than expected. Analysts cheered.",
         ["The U.S. economy grew 2.1% in the quarter, e.g. faster than expected.",
          "Analysts cheered."]),
        ("He moved to the U.S. The move was sudden.",
         ["He moved to the U.S.", "The move was sudden."]),
        ("Mr. and Mrs. Smith went home. J. K. Rowling wrote it.",
         ["Mr. and Mrs. Smith went home.", "J. K. Rowling wrote it."]),
        ("We sold apples, pears, etc. and more. We sold pears, etc. The shop closed.",
         ["We sold apples, pears, etc. and more.", "We sold pears, etc.", "The shop closed."]),
        ("Pi is roughly 3.14159 and e is 2.718. Visit example.com. Then rest.",
         ["Pi is roughly 3.14159 and e is 2.718.", "Visit example.com.", "Then rest."]),
        # Quotes and ellipses.
        ("She said: “We will win.” Then she left.",
         ["She said: “We will win.”", "Then she left."]),
        ("“Is it over?” he asked. Nobody answered.",
         ["“Is it over?” he asked.", "Nobody answered."]),
        ("Wait... What happened? He paused … and then went on!",
         ["Wait...", "What happened?", "He paused … and then went on!"]),
        ('"Stop." "Why?" The car halted.', ['"Stop."', '"Why?"', "The car halted."]),
        # Other languages' punctuation.
        ("¿Dónde está la estación? Está cerca del puerto. ¡Qué suerte!",
         ["¿Dónde está la estación?", "Está cerca del puerto.", "¡Qué suerte!"]),
        ("今日は晴れです。明日は雨でしょう！本当ですか？",
         ["今日は晴れです。", "明日は雨でしょう！", "本当ですか？"]),
        ("Am 3. Oktober ist z.B. ein Feiertag. Das weiß jeder.",
         ["Am 3. Oktober ist z.B. ein Feiertag.", "Das weiß jeder."]),
        ("Sales rose to 40. Then they fell.", ["Sales rose to 40.", "Then they fell."]),
        ("هل انتهى الاجتماع؟ نعم انتهى.", ["هل انتهى الاجتماع؟", "نعم انتهى."]),
        # Lines: headings and list items stand alone, a soft wrap joins.
        ("Background\n\nThe plant opened in 2020.", ["Background", "The plant opened in 2020."]),
        ("1. Install the package\n2. Run the tests",
         ["1. Install the package", "2. Run the tests"]),
        ("The council approved the\nplan on Tuesday.",
         ["The council approved the plan on Tuesday."]),
        ("Results\nThe test passed.", ["Results", "The test passed."]),
        ("  \n\n ", []),
    ],
)  # fmt: skip
def test_sentence_splitting(text: str, sentences: list[str]) -> None:
    assert _split_sentences(text) == sentences


def test_headings_do_not_make_the_summary() -> None:
    text = "Background\n\n" + EN
    summary = analyze_local(_article(text, EN_TITLE)).summary
    assert not summary.startswith("Background")
    assert EN_CENTRAL in summary


# ---------------------------------------------------------------------------------------------
# Length


def test_word_count_of_a_known_text() -> None:
    # Dashes and bullets are not words; a number, an initialism or a hyphenated compound is one.
    text = "The state-of-the-art plant — opened in 2024 — cost $3.5 million (U.S.).\n\n* Jobs: 300"
    analysis = analyze_local(_article(text))
    assert analysis.words == 12
    assert analysis.reading_minutes == 0.1


def test_cjk_is_counted_by_character() -> None:
    # 5 CJK characters; the full stop is not one. Mixed text adds its Latin words.
    assert analyze_local(_article("東京は晴れ。")).words == 5
    assert analyze_local(_article("iPhone 15を買った。")).words == 2 + 4


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        (" ".join(["word"] * 460), 2.0),
        (" ".join(["word"] * 345), 1.5),
        (" ".join(["word"] * 1000), 4.3),  # 4.347...
        ("字" * 1000, 2.0),
        (" ".join(["word"] * 230) + " " + "字" * 500, 2.0),
        ("word", 0.0),
    ],
)
def test_reading_time(text: str, minutes: float) -> None:
    assert analyze_local(_article(text)).reading_minutes == minutes


# ---------------------------------------------------------------------------------------------
# Any input


@pytest.mark.parametrize("text", ["", " ", "\n\n\t", "\u3000", "\u2028\u2029"])
def test_empty_text(text: str) -> None:
    assert analyze_local(_article(text, title="A title")) == Analysis(
        summary="", keywords=[], language=None, words=0, reading_minutes=0.0, analyzer="local"
    )


@pytest.mark.parametrize(
    "text",
    [
        "...", "?!", "。", "—", "\ud800 broken \udfff surrogates.", "a" * 10_000, ". " * 500,
        "'" * 300, "-" * 1000 + " x", "1. 2. 3. 4.", "U.S. U.S. U.S.", "\x00\x01\x02",
        "\u200b\u200d", "İstanbul ŞİŞLİ ǅemal", "é" * 50 + "。" * 50,
    ],
)  # fmt: skip
def test_odd_text_does_not_raise(text: str) -> None:
    analysis = analyze_local(_article(text, title=text))
    analysis.summary.encode("utf-8")  # nothing unencodable is handed on


_PIECES = st.sampled_from(
    [
        "word", "Word", "the", "The", "U.S.", "e.g.", "Dr.", "3.5", "2024", "state-of-the-art",
        "l'école", "don't", "Kestrel", "Bay", "公園", "太陽光", "パネル", "は", "метро", "в",
        "Seilbahn", "die", "¿", "¡", "«", "»", "“", "”", '"', "'", "(", ")", "-", "—", "…", ".",
        "...", "!", "?", "。", "！", "？", ",", ";", ":", " ", " ", " ", "\n", "\n\n", "\t",
    ]
)  # fmt: skip
_TEXTS = st.one_of(st.lists(_PIECES, max_size=80).map("".join), st.text(max_size=300))


@settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(text=_TEXTS, title=st.one_of(st.none(), _TEXTS), sentences=st.integers(0, 4))
def test_any_text_gives_a_summary_of_its_own_sentences(
    text: str, title: str | None, sentences: int
) -> None:
    analysis = analyze_local(_article(text, title), sentences=sentences, keywords=5)
    split = _split_sentences(text)
    normalized = " ".join(text.split())
    assert all(sentence in normalized for sentence in split)
    assert _selection(analysis.summary, split, most=sentences) is not None, analysis.summary
    assert len(analysis.keywords) <= 5
    assert len(set(analysis.keywords)) == len(analysis.keywords)
    for keyword in analysis.keywords:
        assert keyword and keyword == keyword.lower() and keyword == keyword.strip()
        assert not keyword.replace(" ", "").isdigit()
    assert analysis.words >= 0 and analysis.reading_minutes >= 0.0
    if not text.split():
        assert analysis.words == 0
