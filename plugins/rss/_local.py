"""The built-in ``local`` analyzer: summary, keywords, language and reading time, offline.

No network, no model, no numpy: plain CPython over the article's extracted text, quick enough
to run in a process-pool worker beside the parsers. The method, step by step:

1. **Sentences.** The text is cut into whitespace-separated tokens, so that a sentence is a
   run of the text's tokens with single spaces between them. Paragraphs end at blank lines;
   inside one, a line break joins two lines only when the second starts in lower case after
   a line without final punctuation (a soft wrap), otherwise it ends a block (headings, list
   items). A sentence ends after a token ending in ``. ! ? … ؟ ।`` (and any closing quotes or
   brackets) when the next word is not lower case, and always after a CJK full stop,
   question or exclamation mark. A period is no end after a title or a "for example"
   (``Dr.``, ``Sra.``, ``z.B.``, ``e.g.``), a list marker (``1.``, ``II.``) or a German
   ordinal date (``3. Oktober``); after an ambiguous abbreviation or an initialism
   (``etc.``, ``Inc.``, ``U.S.``, ``J.``) it is one only when a capitalised function word
   follows (``… moved to the U.S. The move`` ends, ``U.S. President`` does not). Decimals
   (``3.5``) and hosts (``example.com``) hold no end, as their period is inside a token.
2. **Language.** A script decides alone where it belongs to one language: kana (``ja``),
   Han without kana (``zh``), Hangul (``ko``), Greek (``el``), Hebrew (``he``), Arabic
   script (``ar``, or ``fa``/``ur`` by their own letters), Cyrillic (``ru``, or ``uk`` by
   і ї є ґ). Latin-script text is matched, on its first 200 tokens, against stopword
   profiles (en de fr es it pt nl sv da no pl); a stopword shared by k profiles counts 1/k
   for each. Below a few letters of a script, or when too few tokens are stopwords of the
   best profile, the answer is ``None``. No PyPI package fits: ``langdetect`` is unmaintained
   and slow to load its profiles, ``langid``/``py3langid`` need numpy and a model, ``lingua``
   weighs hundreds of megabytes, ``fasttext`` downloads its model, and the keyword step needs
   stopword lists anyway: these are written for this module, with the words news uses for
   everything (reporting verbs, "year", number words).
3. **Terms.** A token less its edge punctuation (which breaks a phrase) is a word; French and
   Italian elisions (``l'``, ``dell'``) and the English possessive are cut off, and light
   stemming folds a word's forms into one term: plural ``s`` in English, French, Spanish and
   Portuguese (``batteries`` → ``battery``), common endings in German, Dutch, Russian,
   Ukrainian and Polish (``Kabinen`` → ``kabin``, ``линию`` → ``лин``). Stopwords of the
   language, numbers (``2031``, ``3rd``) and one-letter words are no terms and break phrases.
   Japanese terms are runs of kanji or of katakana; Chinese ones the Han segments between
   function characters (their bigrams when long); Korean words lose their trailing particle.
   A term is shown as the text writes it where it first uses it, in lower case (its folded
   form when the text has that too: ``water`` for "waters" and "water").
4. **Summary.** A sentence scores its centrality: for each distinct term, the log of the
   number of sentences holding it (so 0 for a term no other sentence has), summed over the
   square root of its term count: its degree in a LexRank-like similarity graph, without the
   quadratic cost. The score grows with the share of the title's terms it holds (times 3 at
   most) and a little with how early it comes (×1.3 for the first, ×1.0 for the last); it is
   lowered for a sentence that opens on a quotation mark (quotes are colour, seldom the
   point), for fragments and headings (under 5 words, kept out unless the text is short) and
   for run-ons (over 60 words). Sentences are then picked greedily by score times one minus
   their cosine similarity to those already picked (maximal marginal relevance), so that a
   summary does not say the same thing twice, and given back in document order.
5. **Keywords.** Candidates are the terms, and the 2- and 3-term runs between breakers
   (RAKE's phrase delimiters) that the text uses twice or the title has. A term's weight
   per use is 1.3 for the first term used down to 1.0 for the last, plus 0.6 when the title
   has it and 0.3 for a name (capitalised in most of its uses in mid-sentence; not in German,
   which capitalises every noun). A phrase scores its uses (plus one when the title has it)
   times the mean weight of its terms times the square root of its length. Best first, a
   candidate is taken unless it contains, or is contained in, a keyword taken already; a
   longer phrase holding it is taken instead when it has half its uses and 70% of its score
   (``night trains`` rather than ``train`` when half the trains are night trains).
6. **Length.** Words are whitespace-separated tokens holding a letter or digit; Han, kana
   and Hangul characters count one each. Reading time is words / 230 plus CJK characters
   / 500 minutes, rounded to a tenth.

Speed: a token's terms depend on the token and the language only, so each distinct token is
analysed once per process (a bounded table; it never changes a result), and the per-token
work is done over all the tokens at once (set operations, ``zip``, dict builds), not token by
token through a chain of calls.
The patterns for non-Latin scripts are compiled on first use: milliseconds each, which the
import does not pay.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from itertools import chain, compress, filterfalse, islice, pairwise, repeat, starmap
from itertools import count as count_from
from operator import itemgetter, mul, ne, not_
from typing import cast

from ._analysis import Analysis, ArticleText

__all__ = ["analyze_local"]


@cache
def _regex(source: str) -> re.Pattern[str]:
    # The patterns over non-Latin scripts take milliseconds each to compile (their character
    # classes span thousands of code points): compiled when a text first needs them, not at
    # import, which most processes' English and European texts never pay for.
    return re.compile(source)


_WORDS_PER_MINUTE = 230
_CJK_CHARS_PER_MINUTE = 500
# Enough text to tell a script apart; reading further only costs time.
_SCRIPT_SAMPLE_CHARS = 2000
# Enough tokens to tell the Latin-script languages apart.
_SAMPLE_TOKENS = 200
# Fewer letters of a script than this cannot be told apart from a quotation or a name.
_MIN_SCRIPT_LETTERS = 4
# Latin-script text: at least this many (weighted) stopword hits, and this share of tokens.
_MIN_STOPWORD_SCORE = 2.0
_MIN_STOPWORD_SHARE = 0.12
# A sentence with fewer words (CJK: characters) is a heading or a fragment, not a summary.
_MIN_SUMMARY_WORDS = 5
_MIN_SUMMARY_CJK_CHARS = 10
_LONG_SENTENCE_WORDS = 60
_LOG_TOP = 255
_LOGS = [0.0, *map(math.log, range(1, _LOG_TOP + 1))]
# A keyword gives way to a longer phrase holding it when the phrase has this share of its uses
# and of its score: "night train" for "train" when half the trains are night trains.
_EXTENSION_SHARE = 0.5
_EXTENSION_SCORE = 0.7
# How many of the best candidates' terms are looked at for names.
_NAME_CANDIDATES = 40

# ---------------------------------------------------------------------------------------------
# Stopwords. Function words and the words every news text uses (reporting verbs, "year",
# number words): they make the language profiles and keep keywords to what the text is about.

_STOPWORDS_TEXT: dict[str, str] = {
    "en": """
        a about above across after again against ago all almost along already also although
        always am among an and another any anybody anyone anything are around as at away back
        be became because become becomes been before behind being below beside besides between
        beyond both but by can cannot could did do does doing done down during each either
        else elsewhere enough even ever every everyone everything few for from further get
        gets getting got had has have having he her here hers herself him himself his how
        however i if in inside instead into is it its itself just last least less let like
        likely made make makes making many may maybe me meanwhile might mine more moreover most
        mostly much must my myself near nearly need needs neither never nevertheless new next
        no nobody none nor not nothing now of off often on once one only onto or other others
        otherwise our ours ourselves out over own per perhaps quite rather really same several
        she should since so some somebody someone something sometimes somewhat still such than
        that the their theirs them themselves then there thereby therefore these they thing
        things this those though through throughout thus to today together too toward towards
        under unless unlike until up upon us very via was way ways we well were what whatever
        when whenever where whereas wherever whether which while who whoever whole whom whose
        why will with within without would yet you your yours yourself yourselves yesterday
        tomorrow ain't aren't can't couldn't didn't doesn't don't hadn't hasn't haven't he'd
        he'll he's i'd i'll i'm i've isn't it'd it'll it's let's mustn't she'd she'll she's
        shouldn't that's there's they'd they'll they're they've wasn't we'd we'll we're we've
        weren't what's where's who's won't wouldn't you'd you'll you're you've
        said say says saying told tell tells asked added according including include includes
        included called known set went come comes came go goes going gone take took taken
        want wants wanted see seen saw look looks use used uses using give given gave keep kept
        put show shows shown found find think thought year years month months week weeks day
        days time times lot lots part percent per cent mr mrs ms dr two three four five six
        seven eight nine ten first second third hundred hundreds thousand thousands million
        millions billion billions trillion recent recently later early earlier yes ok
        """,
    "de": """
        aber alle allem allen aller alles als also am an ander andere anderem anderen anderer
        anderes anders auch auf aus außer bei beide beiden beim bereits besonders bin bis
        bisher bist bitte da dabei dadurch dafür dagegen daher dahin damals damit danach dann
        daran darauf daraus darin darum darüber das dass davon dazu dein deine dem den denen
        denn dennoch der deren des deshalb dessen die dies diese dieselbe diesem diesen dieser
        dieses doch dort du durch eben ebenfalls ebenso ein eine einem einen einer eines
        einige einigen einmal einst er es etwa etwas euch euer eure falls fast für gab gar
        gegen gegenüber gehabt gekommen gemacht genau gerade gestern gewesen gibt gleich habe
        haben hast hat hatte hätte hatten hätten heute hier hin hinter ich ihm ihn ihnen ihr
        ihre ihrem ihren ihrer ihres im immer in indem ins insgesamt ist ja je jede jedem
        jeden jeder jedes jedoch jemand jene jetzt kam kann kaum kein keine keinem keinen
        keiner können könnte könnten laut lässt machen macht man manche mehr mehrere mein
        meine meist meisten mit muss musste müssen nach nachdem neben nein neu neue neuen
        nicht nichts noch nun nur ob obwohl oder ohne rund schon sehr sei seien sein seine
        seinem seinen seiner seit selbst sich sie sind so sodass solche soll sollen sollte
        sollten sondern sonst sowie sowohl später statt über um und uns unser unsere unter
        viel viele vielleicht vom von vor vorher während wann war wäre waren wären warum was
        weder weil weiter weitere weiteren welche welchem welchen welcher wenig wenige wenn
        wer werde werden weshalb wie wieder will wir wird wo wobei wohl worden wurde würde
        wurden würden zu zudem zum zur zwar zwischen sagt sagte sagten erklärt erklärte
        heißt hieß jahr jahre jahren jahres prozent million millionen milliarde milliarden
        zwei drei vier fünf sechs sieben acht neun zehn erste ersten zweite dritte geht gehen
        kommt kommen gut gute beim dessen welches
        """,
    "fr": """
        à a afin ai ainsi alors après as au aucun aucune aujourd'hui auprès aussi autre autres
        aux avaient avais avait avant avec avoir avons ayant beaucoup bien c ça car ce ceci
        cela celle celles celui cependant certains certaines ces cet cette ceux chaque chez
        comme comment contre d dans de depuis des dès deux devant donc dont du elle elles en
        encore entre es est et étaient était été être eu eux fait faire fois font hier ici il
        ils j jamais je jusqu jusque l la laquelle le lequel les lesquels leur leurs lors
        lorsque lui m ma mais me même mêmes mes moi moins mon n ne ni non nos notre nous on
        ont ou où par parce parmi pas peu peut peuvent plus plusieurs pour pourquoi pourtant
        près puis qu quand que quel quelle quelles quels qui quoi s sa sans se selon sera
        seront serait ses si sien sinon soit son sont sous souvent suis sur t ta tandis tant
        te tel telle tes toi ton toujours tous tout toute toutes très trop tu un une unes uns
        vers voici voilà vos votre vous y dit déclaré explique indique selon an ans année
        années mois jour jours fois million millions milliard milliards trois quatre cinq six
        sept huit neuf dix premier première cent pourcent également notamment ailleurs
        désormais encore afin dont c'est n'est qu'il qu'elle d'un d'une
        """,
    "es": """
        a al algo alguien algún alguna algunas alguno algunos allí ante antes aquel aquella
        aquí así aunque cada casi como cómo con contra cual cuál cuales cuando cuándo cuanto
        de del desde donde dónde dos durante e el él ella ellas ello ellos en entre era eran
        eres es esa esas ese eso esos esta está estaba estado están estar estas este esto
        estos fue fueron gran ha había habían han hasta hay hace hacer hacia hoy la las le
        les lo los más me mi mis mientras mismo mucha muchas mucho muchos muy nada ni ningún
        ninguna no nos nosotros nuestra nuestro o otra otras otro otros para pero poco por
        porque pues que qué quien quién quienes se sea según ser si sí sido siempre sin sino
        sobre solo sólo son su sus también tan tanto te tiene tienen todo toda todas todos tu
        tus un una unas uno unos usted y ya yo dijo dice afirmó señaló explicó año años mes
        meses día días vez veces millón millones tres cuatro cinco seis siete ocho nueve diez
        primer primera primero además ayer puede pueden será serán sería ni e u
        """,
    "it": """
        a abbia ad agli ai al alla alle allo anche ancora avere aveva avevano avuto c che chi
        ci come con contro cosa così cui da dai dagli dal dall dalla dalle dallo degli dei del
        dell della delle dello dentro di dopo dove due e è ed era erano essere fa fare fino
        fra gli ha hanno ho i il in io l la le lei li lo loro lui ma mai me mentre mi mia mie
        miei mio molto molti molte ne negli nei nel nell nella nelle nello no noi non nostra
        nostro o ogni oggi ieri oltre per perché però più poi poco proprio può qual quale
        quali qualche quando quanto quella quelle quelli quello questa queste questi questo
        qui se sé sei si sia siamo sono sopra sotto sta stata state stati stato stesso su sua
        sue sugli sui sul sull sulla sulle suo suoi tra tre tutta tutte tutti tutto un una
        uno voi detto dice ha spiegato secondo anno anni mese mesi giorno giorni volta volte
        milione milioni miliardi quattro cinque sei sette otto nove dieci primo prima inoltre
        già sempre essere stata infatti invece quindi dunque
        """,
    "pt": """
        a à ao aos aquela aquele aquilo as às até com como contra da das de dela dele deles
        depois desde do dos e é ela elas ele eles em entre era eram essa essas esse esses
        esta está estão estas este estes estava eu foi foram há isso isto já lhe lhes mais
        mas me mesmo meu minha muito muitos na nas não nem no nos nós num numa o os ou para
        pela pelas pelo pelos por porque pouco quando que quem se sem ser será seria seu seus
        si sido só sob sobre sua suas também tem têm tinha tudo um uma umas uns vai você
        vocês ainda além apenas cada disse afirmou segundo ano anos mês meses dia dias vez
        vezes milhão milhões três quatro cinco seis sete oito nove dez primeiro primeira
        ontem hoje pode podem onde qual quais ter são estar tão toda todas todo todos
        """,
    "nl": """
        aan al alle alles als altijd andere ben bij daar daarom dan dat de der deze die dit
        doch doen door dus een eens en er ge geen geweest haar had heb hebben heeft hem het
        hier hij hoe hun iemand iets ik in is ja je jij kan kon kunnen maar me meer men met
        mij mijn moet moeten na naar niet niets nog nu of om omdat ons onze ook op over reeds
        te tegen toch toen tot u uit uw van veel voor waar want waren was wat we wel werd
        werden wie wij wil worden wordt zal ze zei zegt zelf zich zij zijn zo zonder zou
        zouden jaar jaren maand procent miljoen miljard twee drie vier vijf eerste volgens
        onder tussen sinds nadat terwijl echter alleen wordt gaat gaan komt
        """,
    "sv": """
        alla allt att av blev bli blir de dem den denna deras dess det detta dig din dina
        ditt du där efter ej eller en er era ett från för ha hade han hans har henne hennes
        hon honom hur här i icke ingen inom inte jag ju kan kunde man med mellan men mig min
        mina mitt mot mycket ni nu när någon något några och om oss på samma sedan sig sin
        sina sitt själv skulle som så sådan till under upp ut utan vad var vara varför varit
        vi vid vilka vilken vill våra vår år också enligt säger sade miljoner procent två tre
        fyra fem första andra finns många
        """,
    "da": """
        af alle andet andre at blev bliver da de dem den denne der deres det dette dig din
        dine disse dit du efter eller en end er et for fra ham han hans har havde have hende
        hendes her hos hun hvad hvis hvor i ikke ind jeg jer kan kunne man mange med meget
        men mig min mine mit mod når nu og også om op os over på sig sin sine sit skal skulle
        som selv så til ud under var vi vil ville være været år ifølge siger sagde millioner
        procent to tre fire fem første
        """,
    "no": """
        alle at av bare ble bli blir da de dem den denne der deres det dette deg din dine
        ditt du eller en enn er et etter for fra før han hans har hadde henne hennes her hun
        hva hvis hvor i ikke inn jeg kan kunne man mange med meg men min mine mitt mot mye nå
        når og også om opp oss over på seg sin sine sitt skal skulle som så til ut under var
        vi vil ville være vært år ifølge sier sa millioner prosent to tre fire fem første
        """,
    "pl": """
        a aby ale bardzo bez bo by był była było były być będzie będą chociaż co czy dla do
        dziś gdy gdzie go i ich ile im inne jak jako je jego jej jest jestem jeszcze jeśli
        już każdy kiedy kto która które którego której który których którym ma mają mi mnie
        może można mu na nad nam nas nawet nic nie niż nich nim no o od on ona one oni ono
        oraz po pod ponad poza przed przez przy również się są sobie swoje tak także tam te
        tego tej ten też to tu tylko tym u w we według więc wszystko wszystkich z za ze że
        żeby jednak został została zostało zostały roku rok lat lata mln proc dwa trzy cztery
        pięć pierwszy powiedział
        """,
    "ru": """
        а без более бы был была были было быть в вам вас весь во вот все всего всех вы где
        да даже для до его ее её ей если есть еще ещё же за здесь и из или им их к как ко
        когда кто ли либо мне может мы на над надо не него нее неё нет ни них но ну о об
        однако он она они оно от очень по под после при про с со так также такой там те тем
        то того тоже той только том ты у уже хотя чего чем что чтобы эта эти это этого этой
        этом этот я который которая которое которые которых которого которой которым сказал
        заявил отметил года году лет год млн млрд тысяч два три четыре пять первый время
        сейчас будет будут можно нужно свой своей свои своих между через
        """,
    "uk": """
        і й та але в у на з із зі до від що як це він вона вони ми ви не так також був була
        було були бути його її їх для про при після через який яка яке які якщо коли де тому
        або ж вже ще лише року років рік має мають може можна між
        """,
    "el": """
        και το τα τη την της του των τον τους η ο οι να θα με σε στο στη στην στα στον στις
        στους για από που είναι ήταν δεν μη μην ως ή αλλά επίσης όπως μετά πριν κατά προς
        ένα μια μία έναν ενός αυτό αυτή αυτός αυτά αυτές αυτοί έχει έχουν είχε ότι όταν πολύ
        πιο ενώ οποίο οποία οποίοι
        """,
    "he": """
        של את על עם זה זו זאת הוא היא הם הן אני אנחנו לא כי אם גם או אבל כל יש אין היה
        היתה היו אשר רק עוד כבר מה מי איך למה כמו בין אחרי לפני עד אל כך
        """,
    "ar": """
        في من على إلى الى عن مع هذا هذه ذلك تلك التي الذي الذين أن إن ان كان كانت قد لا ما
        لم لن هو هي هم كما أو او ثم بعد قبل حتى عند كل بين أي و أيضا إلا وقد وفي ومن التى
        عام وأن وهو وهي منذ خلال حيث
        """,
    "ko": """
        그 이 저 것 수 등 및 또는 그리고 하지만 그러나 또한 있다 있는 했다 한다 하는 된다
        되는 위해 대한 통해 같은 이번 지난 올해 때문 것으로 것이다 있습니다 했습니다 밝혔다
        말했다 더 가장 많은 모든
        """,
    # Japanese "stopwords" are the commonest kanji compounds that say nothing about a topic.
    "ja": """
        今回 今年 昨年 来年 今後 以上 以下 場合 可能 必要 一方 同社 同日 予定 関係 対象 以降
        現在 時点 前年 全体 一部 部分 自分 私達 方法 結果 理由 状況 内容 年間 今月 先月 来月
        """,
}


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_LATIN_PROFILES = ("en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "no", "pl")
_STOPWORDS: dict[str, frozenset[str]] = {
    lang: _word_set(words) for lang, words in _STOPWORDS_TEXT.items()
}
_ALL_STOPWORDS: frozenset[str] = frozenset(chain.from_iterable(_STOPWORDS.values()))


def _profile_index() -> dict[str, tuple[float, ...]]:
    # Each Latin-script stopword → its weight in each profile: 1 / how many profiles have it.
    profiles: dict[str, list[int]] = {}
    for i, lang in enumerate(_LATIN_PROFILES):
        for word in _STOPWORDS[lang]:
            profiles.setdefault(word, []).append(i)
            if "'" in word:  # texts write a curly apostrophe as often as a straight one
                profiles.setdefault(word.replace("'", "’"), []).append(i)
    return {word: _profile_weights(tuple(found)) for word, found in profiles.items()}


@cache
def _profile_weights(profiles: tuple[int, ...]) -> tuple[float, ...]:
    # Shared by the words in the same profiles: a few dozen tuples, not one per word.
    weight = 1.0 / len(profiles)
    return tuple(weight if i in profiles else 0.0 for i in range(len(_LATIN_PROFILES)))


_PROFILE_INDEX = _profile_index()

# ---------------------------------------------------------------------------------------------
# Sentences

_TERMINATORS = ".!?…؟।"
_CJK_ENDS = "。！？｡"
_CLOSERS = "\"'”’»›)]}」』）】〉》"
_QUOTES = frozenset("\"'“‘„‚«‹「『")
_OPENERS = "\"'“‘„‚«‹([{¿¡「『（【〈《—–-*•·"
_END_CHARS = frozenset(_TERMINATORS + _CLOSERS)
_FINALS = frozenset(_TERMINATORS + _CJK_ENDS)
# A line ending in one of these is complete: the next line starts a new block.
_LINE_ENDS = frozenset(_TERMINATORS + _CJK_ENDS + _CLOSERS + ":;")
_CJK_END = f"[{_CJK_ENDS}]+[{re.escape(_CLOSERS)}]*"
_LEADING_WORD_RE = re.compile(r"\w*")
_INITIALISM_RE = re.compile(r"(?:[^\W\d_]\.)*[^\W\d_]")
_ROMAN_RE = re.compile(r"[ivxlcdm]+|[IVXLCDM]+")
_ALNUM_RE = re.compile(r"[^\W_]")

# A period after these is never the end of a sentence (titles, "for example", German, Spanish
# and Russian abbreviations); keys are lower case, without their final period.
_NEVER_END = _word_set(
    """mr mrs ms mx dr prof sen rep gov gen col lt sgt capt cmdr adm st mt ft rev hon pres
    supt e.g i.e cf viz vs approx ca nr bzw z.b d.h u.a vgl ggf evtl inkl bspw sog hr fr
    sr sra srta dra dres ee mme mlle sig dott ing avv p pp vol ed eds op
    ст им ул тов проф др"""
)  # fmt: skip
# A period after these ends a sentence only when a capitalised function word follows.
_MAYBE_END = _word_set(
    """etc inc ltd co corp llc plc bros jr al usw uu no jan feb mar apr jun jul aug sep sept
    oct nov dec dept est min max"""
)  # fmt: skip
_SENTENCE_STARTERS = _ALL_STOPWORDS
# "am 3. Oktober", "im 19. Jahrhundert": a German ordinal, not a sentence ending in a number.
_ORDINAL_NOUNS = _word_set(
    """januar jänner februar märz april mai juni juli august september oktober november
    dezember jahrhundert jahrhunderts mal platz stock liga klasse runde"""
)  # fmt: skip


def _split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` in order. Each is a run of the text's whitespace-separated
    tokens joined by single spaces, so a substring of ``" ".join(text.split())``."""
    return [" ".join(tokens) for tokens in _sentence_tokens(text)]


def _sentence_tokens(text: str) -> list[list[str]]:
    cjk_ends = not text.isascii() and any(end in text for end in _CJK_ENDS)
    sentences: list[list[str]] = []
    for block in _blocks(text):
        _split_block(block, sentences, cjk_ends=cjk_ends)
    return sentences


def _blocks(text: str) -> Iterator[list[str]]:
    # A block is a paragraph, or a line of one that does not continue the line before.
    current: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if current and (not words or current[-1][-1] in _LINE_ENDS or not words[0][0].islower()):
            yield current
            current = []
        current.extend(words)
    if current:
        yield current


def _split_block(tokens: list[str], sentences: list[list[str]], *, cjk_ends: bool) -> None:
    forced: set[int] = set()
    glued: set[int] = set()
    if cjk_ends:
        tokens, forced, glued = _cut_at_cjk_ends(tokens)
    start = 0
    # Only a token ending in a terminator or a closer can end a sentence; most cannot.
    ends = [i for i, token in enumerate(tokens) if token[-1] in _END_CHARS]
    for i in sorted(forced.union(ends)) if forced else ends:
        if i in forced or _ends_sentence(tokens, start, i):
            _add_sentence(sentences, tokens[start : i + 1], glued=start in glued)
            start = i + 1
    if start < len(tokens):
        _add_sentence(sentences, tokens[start:], glued=start in glued)


def _cut_at_cjk_ends(tokens: list[str]) -> tuple[list[str], set[int], set[int]]:
    # CJK sentences end at a full-width full stop, question or exclamation mark with no space
    # after: cut tokens there. Each cut piece ending in one ends a sentence (``ends``); a
    # piece that follows another of the same token with no space between them is ``glued``.
    cut: list[str] = []
    ends: set[int] = set()
    glued: set[int] = set()
    for token in tokens:
        start = 0
        for match in _regex(_CJK_END).finditer(token):
            if start:
                glued.add(len(cut))
            cut.append(token[start : match.end()])
            ends.add(len(cut) - 1)
            start = match.end()
        if 0 < start < len(token):
            glued.add(len(cut))
            cut.append(token[start:])
        elif start == 0:
            cut.append(token)
    return cut, ends, glued


def _add_sentence(sentences: list[list[str]], tokens: list[str], *, glued: bool) -> None:
    # A piece without a letter or digit ("...", a lone dash) belongs to the sentence before,
    # written as the text has it: with no space when it was glued to it.
    if sentences and not (tokens[0].isalnum() or any(map(_ALNUM_RE.search, tokens))):
        if glued:
            sentences[-1][-1] += tokens[0]
            tokens = tokens[1:]
        sentences[-1].extend(tokens)
    else:
        sentences.append(tokens)


def _ends_sentence(tokens: list[str], start: int, i: int) -> bool:
    core = tokens[i].rstrip(_CLOSERS)
    if not core or core[-1] not in _TERMINATORS:
        return False
    if i + 1 == len(tokens):
        return True
    following = tokens[i + 1].lstrip(_OPENERS)
    if not following[:1].isalnum():
        return True
    if following[0].islower():
        return False  # "e.g. the", "approx. five", "“Why?” she asked"
    word = core.rstrip(_TERMINATORS)
    if core[len(word) :] != ".":
        return True  # ? ! … ...
    return _period_ends_sentence(word.lstrip(_OPENERS), following, first=i == start)


def _period_ends_sentence(word: str, following: str, *, first: bool) -> bool:
    # ``word``: the token before the period, less it; ``following``: the next token, less its
    # opening quotes and brackets.
    if not word:
        return True
    low = word.lower()
    if low in _NEVER_END:
        return False
    if low in _MAYBE_END or _INITIALISM_RE.fullmatch(word):
        return _first_word(following) in _SENTENCE_STARTERS
    if word.isdigit() or _ROMAN_RE.fullmatch(word):
        if first:
            return False  # "1. Install", "II. Results": a list marker
        if word.isdigit() and len(word) <= 2 and _first_word(following) in _ORDINAL_NOUNS:
            return False
    return True


def _first_word(token: str) -> str:
    match = _LEADING_WORD_RE.match(token)
    return match.group().lower() if match else ""


# ---------------------------------------------------------------------------------------------
# Language

_SCRIPTS: tuple[tuple[str, str], ...] = (
    ("kana", r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]"),
    ("han", r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"),
    ("ko", r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]"),
    ("cyrillic", r"[\u0400-\u04ff]"),
    ("el", r"[\u0370-\u03ff\u1f00-\u1fff]"),
    ("he", r"[\u0590-\u05ff]"),
    ("arabic", r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"),
    ("latin", r"[A-Za-z\u00c0-\u024f]"),
)
# Anything but Latin letters, general punctuation and symbols (a negated class: quick to
# compile, unlike the list of the scripts themselves).
_NON_LATIN = r"[^\x00-\u036f\u1e00-\u1eff\u2000-\u2bff\ufb00-\ufb06]"
_UKRAINIAN_LETTERS = r"[іїєґІЇЄҐ]"
# Letters Arabic does not use: Urdu's retroflexes and final ye; Persian's pe, che, zhe, gaf
# and its own kaf and ye.
_URDU_LETTERS = r"[ٹڈڑںے]"
_PERSIAN_LETTERS = r"[پچژگکی]"


def _detect_language(text: str, sentences: list[list[str]]) -> str | None:
    if not text.isascii():
        sample = text[:_SCRIPT_SAMPLE_CHARS]
        if _regex(_NON_LATIN).search(sample):
            script = _dominant_script(sample)
            if script != "latin":
                return script
    return _stopword_language(Counter(islice(chain.from_iterable(sentences), _SAMPLE_TOKENS)))


def _dominant_script(sample: str) -> str | None:
    counts = {name: len(_regex(pattern).findall(sample)) for name, pattern in _SCRIPTS}
    counts["cjk"] = counts["kana"] + counts["han"]
    best = max(("cjk", "ko", "cyrillic", "el", "he", "arabic", "latin"), key=counts.__getitem__)
    letters = counts[best]
    if best == "latin":
        return "latin"
    if letters < _MIN_SCRIPT_LETTERS:
        # Too little of any script; Latin text that merely quotes a word or two is still Latin.
        return "latin" if counts["latin"] else None
    if best == "cjk":
        # Japanese writes kana in every sentence; Chinese has none.
        return "ja" if counts["kana"] * 20 >= letters else "zh"
    if best == "cyrillic":
        return "uk" if len(_regex(_UKRAINIAN_LETTERS).findall(sample)) * 50 >= letters else "ru"
    if best == "arabic":
        if len(_regex(_URDU_LETTERS).findall(sample)) * 100 >= letters:
            return "ur"
        return "fa" if len(_regex(_PERSIAN_LETTERS).findall(sample)) * 50 >= letters else "ar"
    return best


def _stopword_language(tokens: Counter[str]) -> str | None:
    total = sum(tokens.values())
    # Tokens as they are, only lower-cased: a stopword with punctuation attached ("it.") is
    # rare enough not to be worth cleaning every token for. Each use adds the word's weights
    # to the profiles' scores, column by column (C-level calls: no loop per token).
    weights = map(_PROFILE_INDEX.get, map(str.lower, tokens))
    found = list(zip(weights, tokens.values(), strict=True))
    hits = cast(
        "Iterator[tuple[tuple[float, ...], int]]", compress(found, map(itemgetter(0), found))
    )
    uses = chain.from_iterable(starmap(repeat, hits))
    scores: list[float] = list(map(sum, zip(*uses, strict=True))) or [0.0]
    best = max(range(len(scores)), key=scores.__getitem__)
    if scores[best] < _MIN_STOPWORD_SCORE or scores[best] < _MIN_STOPWORD_SHARE * total:
        return None
    return _LATIN_PROFILES[best]


# ---------------------------------------------------------------------------------------------
# Terms

# Cut off a token's edges: it is a word inside them. (Apostrophes and hyphens too: a word's
# inner ones stay.)
_EDGE_PUNCTUATION = (
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~“”‘’„‚«»‹›–—―…·•¿¡。、，．！？：；「」『』（）【】《》〈〉・"
    "€£¥₽‰°§¶†‡"
)
# A word with inner hyphens or apostrophes; anything else inside a token splits it, with a
# breaker (the empty group) for each run of punctuation: "U.S", "3.5", "and/or".
_COMPOUND_RE = re.compile(r"\w+(?:['’\-]\w+)*")
_TOKEN_RE = re.compile(r"(\w+(?:['’\-]\w+)*)|[^\w\s]+")
_ELISIONS = _word_set(
    "l d j m n s t c qu jusqu lorsqu puisqu quoiqu dell all dall nell sull un quell"
)
# Digits with an ordinal or decade ending are numbers too: "3rd", "1990s", "2e", "10º".
_NUMBER_RE = re.compile(r"[\d'\-.,]*\d(?:st|nd|rd|th|s|er|e|ème|eme|º|ª)?")
# Inflection endings folded away so that the forms of a word are one term ("Kabine" and
# "Kabinen", "линия" and "линию"): longest first, each cut only when the stem left is at
# least _MIN_STEM letters. Light stemming, not a stemmer: a key is never shown.
_S_PLURAL = ("s",)
_ENDINGS: dict[str, tuple[str, ...]] = {
    "en": _S_PLURAL,
    "fr": _S_PLURAL,
    "es": _S_PLURAL,
    "pt": _S_PLURAL,
    "de": ("en", "er", "es", "e", "n", "s"),
    "nl": ("en", "s"),
    "ru": (
        "иями", "ями", "ами", "иях", "ого", "его", "ому", "ему", "ыми", "ими", "ях", "ах", "ой",
        "ей", "ий", "ый", "ая", "яя", "ое", "ее", "ые", "ие", "ую", "юю", "ом", "ем", "ам", "ям",
        "ов", "ев", "ию", "ия", "ии", "ья", "ье", "ьи", "а", "я", "о", "е", "ы", "и", "у", "ю",
        "ь", "й",
    ),
    "uk": (
        "ями", "ами", "ого", "ому", "ими", "ях", "ах", "ої", "ій", "ий", "ої", "ою", "ею", "ом",
        "ем", "ам", "ям", "ів", "ов", "ія", "ії", "ію", "а", "я", "о", "е", "и", "і", "у", "ю",
        "ь", "й",
    ),
    "pl": (
        "ami", "ach", "ych", "ich", "ego", "emu", "owi", "om", "ów", "ie", "ia", "ii", "ą", "ę",
        "y", "i", "a", "u", "e", "o",
    ),
}  # fmt: skip
_MIN_STEM = 3
_KOREAN_PARTICLES = (
    "에서는", "으로는", "에게서", "에서", "으로", "에게", "까지", "부터", "보다", "처럼", "하고",
    "은", "는", "이", "가", "을", "를", "의", "에", "로", "와", "과", "도", "만",
)  # fmt: skip
_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Latin-script words inside CJK text ("iPhone", "AI") are terms as they are.
_LATIN_WORD = r"[A-Za-z\u00c0-\u024f][A-Za-z0-9\u00c0-\u024f\-]+"
_JA_TERM = rf"[{_HAN}々〆ヵヶ]{{2,}}|[\u30a1-\u30faー]{{2,}}|{_LATIN_WORD}"
_ZH_SEGMENT = rf"[{_HAN}]+|{_LATIN_WORD}"
# Characters that never belong to a Chinese term: function characters.
_ZH_FUNCTION = (
    "[的了是在和与及或也都就而被把对从向为以于这那其之等个们我你他她它有不没很将会要已并但却又还"
    "所此该各每更最因如若则由着过吗呢吧啊]"
)
_CJK_LANGUAGES = frozenset({"ja", "zh"})
_BREAK = ("",)


# token → its terms (see _Text), one table per language: a token's terms depend on the token
# and the language alone, so the tables serve every later text in the process (most tokens of
# an article were in an earlier one) without changing any result. Bounded: a table that grows
# past _CACHE_TOKENS is replaced, never cleared in place, so a reader holding it is not hurt.
_CACHE_TOKENS = 60_000
_ENTRY_CACHE: dict[str | None, dict[str, tuple[str, ...]]] = {}


class _Text:
    """The terms of one text (the article's or its title) in the analyzer's language.

    ``flat`` is the text's terms in order, with ``""`` wherever a phrase breaks (between
    sentences too); ``terms[i]`` is the set of sentence i's terms. A term is a folded key
    (``battery`` for "batteries", ``kabin`` for "Kabinen"), never shown: ``display`` finds how
    the text writes it."""

    def __init__(
        self, sentences: list[list[str]], tokens: Counter[str], language: str | None
    ) -> None:
        self.language = language
        self.cjk = language in _CJK_LANGUAGES
        self.stopwords = _STOPWORDS.get(language or "", _ALL_STOPWORDS)
        self.flat: list[str] = []
        self.terms: list[set[str]] = []
        self._sentences = sentences
        self._tokens = tokens
        # token → its terms in order, "" for each phrase break in or around it
        self._entries: dict[str, tuple[str, ...]] = {}
        if self.cjk:
            self._add_cjk(sentences)
        else:
            self._add_spaced(sentences)

    def _add_spaced(self, sentences: list[list[str]]) -> None:
        entries = _ENTRY_CACHE.get(self.language)
        if entries is None or len(entries) > _CACHE_TOKENS:
            entries = _ENTRY_CACHE[self.language] = {}
        missing = list(filterfalse(entries.__contains__, self._tokens))
        if missing:
            entries.update(self._analyse(missing))
        self._entries = entries
        lookup = entries.__getitem__
        flats = [list(chain.from_iterable(map(lookup, sentence))) for sentence in sentences]
        # The whole text's terms, a break after each sentence.
        self.flat = list(chain.from_iterable(chain.from_iterable(zip(flats, repeat(_BREAK)))))
        self.terms = list(map(set, flats))
        for terms in self.terms:
            terms.discard("")

    def _analyse(self, tokens: list[str]) -> dict[str, tuple[str, ...]]:
        # Each token's terms, with a break for punctuation at its edges. The analyzer's hot
        # path: the work is done over all the tokens at a time (set operations, zip, dict
        # builds, comprehensions), not token by token through a chain of function calls.
        cores = dict(zip(tokens, tokens, strict=True))
        # Only a token with something besides letters and digits can have punctuation to cut.
        odd = list(filterfalse(str.isalnum, tokens))
        cores.update({token: token.strip(_EDGE_PUNCTUATION) for token in odd})
        lowered = list(map(str.lower, cores.values()))
        words = self._words(set(lowered))
        entries = dict(zip(tokens, map(words.__getitem__, lowered), strict=True))
        for token, core in [(token, core) for token, core in cores.items() if token != core]:
            # Punctuation at an edge breaks a phrase: "plant," "(the". A token that is all
            # punctuation is one break.
            keys = entries[token]
            if core and not token.startswith(core):
                keys = _BREAK + keys
            if core and not token.endswith(core):
                keys += _BREAK
            entries[token] = keys if core else _BREAK
        return entries

    def _words(self, words: set[str]) -> dict[str, tuple[str, ...]]:
        # Each distinct lower-case word (a token less its edge punctuation) → its terms.
        terms: dict[str, tuple[str, ...]] = dict.fromkeys(words & self.stopwords, _BREAK)
        content = words - self.stopwords
        plain = set(filter(str.isalpha, content))
        endings = _ENDINGS.get(self.language or "")
        # Most words are one plain word, its own term unless an ending folds away (and only
        # words ending in "s" can lose a plural "s"). zip() makes the 1-tuples.
        if endings is _S_PLURAL:
            folding = {word for word in plain if word[-1] == "s"}
        else:
            folding = plain if endings or self.language == "ko" else set()
        unchanged = plain - folding
        terms.update(zip(unchanged, zip(unchanged), strict=True))
        fold = _fold_s if endings is _S_PLURAL else self._key
        terms.update(zip(folding, zip(map(fold, folding)), strict=True))
        terms.update(dict.fromkeys([word for word in plain if len(word) < 2], _BREAK))
        rest = content - plain
        numbers = set(filter(str.isdigit, rest))
        terms.update(dict.fromkeys(numbers, _BREAK))
        for word in rest - numbers:
            if not word:
                terms[word] = _BREAK
            elif _COMPOUND_RE.fullmatch(word):
                terms[word] = (self._key(_strip_clitics(word)),)
            else:
                found = _TOKEN_RE.findall(word)
                terms[word] = tuple(self._key(_strip_clitics(w)) if w else "" for w in found)
        return terms

    def _key(self, low: str) -> str:
        # ``low``: one lower-case word, its elision and possessive already cut off.
        if len(low) < 2 or low in self.stopwords:
            return ""
        if not low.isalpha() and _NUMBER_RE.fullmatch(low):
            return ""
        if self.language == "ko":
            low = _strip_particle(low)
            if low in self.stopwords:
                return ""
        endings = _ENDINGS.get(self.language or "")
        return _fold(low, endings) if endings else low

    def _add_cjk(self, sentences: list[list[str]]) -> None:
        # Without a segmenter, each term stands alone: a breaker after each.
        for sentence in sentences:
            text = " ".join(sentence)
            found = _regex(_JA_TERM).findall(text) if self.language == "ja" else _zh_terms(text)
            terms = [term.lower() for term in found]
            terms = [term for term in terms if term not in _ALL_STOPWORDS]
            for term in terms:
                self.flat.extend((term, ""))
            self.terms.append(set(terms))

    def capitalised(self, terms: set[str]) -> Counter[str]:
        """How often each of ``terms`` is written with a capital in mid-sentence."""
        if self.cjk:
            return Counter()
        first_tokens = Counter(map(itemgetter(0), self._sentences))
        counts: Counter[str] = Counter()
        for token in [token for token in self._tokens if token[0].isupper()]:
            # A token's term is the greatest of its entry: its one term, above the breaks.
            key = max(self._entries[token])
            if key in terms:
                counts[key] += self._tokens[token] - first_tokens[token]
        return counts

    def display(self, phrase: tuple[str, ...]) -> str:
        """How the text writes ``phrase`` where it first uses it (in lower case)."""
        if not self.cjk:
            for index, terms in enumerate(self.terms):
                if len(phrase) == 1 and phrase[0] in terms:
                    if phrase[0] in self._tokens:
                        return phrase[0]  # the text has the folded form too: "water", "waters"
                    sentence = self._sentences[index]
                    token = next(t for t in sentence if phrase[0] in self._entries[t])
                    return self._word(token, phrase[0])
                if terms.issuperset(phrase) and (found := self._written(index, phrase)):
                    return found
        return " ".join(phrase)  # CJK terms are their own text

    def _written(self, index: int, phrase: tuple[str, ...]) -> str | None:
        sentence = self._sentences[index]
        entries = list(map(self._entries.__getitem__, sentence))
        keys = list(chain.from_iterable(entries))
        # owner[j]: the index in the sentence of the token that key j comes from
        owner = list(chain.from_iterable(map(repeat, count_from(), map(len, entries))))
        size = len(phrase)
        at = -1
        while phrase[0] in keys[at + 1 :]:
            at = keys.index(phrase[0], at + 1)
            if tuple(keys[at : at + size]) == phrase:
                return " ".join(
                    self._word(sentence[owner[j]], keys[j]) for j in range(at, at + size)
                )
        return None

    def _word(self, token: str, key: str) -> str:
        entry = self._entries[token]
        if len(entry) - entry.count("") > 1:
            return key  # one of several words in a token ("U.S"): rare, shown as its term
        # One word: as written, less its edge punctuation and elision.
        return _strip_clitics(token.strip(_EDGE_PUNCTUATION).lower())

    def all_terms(self) -> set[str]:
        return set().union(*self.terms)


def _strip_clitics(low: str) -> str:
    low = low.replace("’", "'")
    head, apostrophe, tail = low.partition("'")
    if apostrophe and head in _ELISIONS:
        low = tail
    if low.endswith("'s"):
        low = low[:-2]
    return low.strip("'-")


def _fold_s(low: str) -> str:
    # "battery"/"batteries", "voiture"/"voitures"; not "bus", "glass", "analysis".
    if low[-1] != "s" or len(low) <= _MIN_STEM or low.endswith(("ss", "us", "is")):
        return low
    return low[:-3] + "y" if low.endswith("ies") and len(low) > 4 else low[:-1]


def _fold(low: str, endings: tuple[str, ...]) -> str:
    if endings is _S_PLURAL:
        return _fold_s(low)
    for ending in endings:
        if low.endswith(ending) and len(low) - len(ending) >= _MIN_STEM:
            return low[: -len(ending)]
    return low


def _strip_particle(word: str) -> str:
    for particle in _KOREAN_PARTICLES:
        if word.endswith(particle) and len(word) - len(particle) >= 2:
            return word[: -len(particle)]
    return word


def _zh_terms(sentence: str) -> list[str]:
    terms: list[str] = []
    for segment in _regex(_ZH_SEGMENT).findall(sentence):
        if segment.isascii():
            terms.append(segment)
            continue
        for part in _regex(_ZH_FUNCTION).split(segment):
            if 2 <= len(part) <= 4:
                terms.append(part)
            elif len(part) > 4:
                # A long run without function characters is several words: its bigrams are
                # the commonest word length in Chinese.
                terms.extend(part[i : i + 2] for i in range(len(part) - 1))
    return terms


# ---------------------------------------------------------------------------------------------
# Summary


def _summary(
    text: _Text, sentences: list[str], sizes: list[int], title: set[str], count: int
) -> str:
    """``count`` sentences, in document order; ``sizes[i]`` is sentence i's length in
    tokens (characters for CJK)."""
    if count <= 0 or not sentences:
        return ""
    least = _MIN_SUMMARY_CJK_CHARS if text.cjk else _MIN_SUMMARY_WORDS
    candidates = [i for i, size in enumerate(sizes) if size >= least]
    if len(candidates) < count:
        # A short text: its short sentences too, though not its headings (unless it is all
        # headings).
        ended = [i for i, line in enumerate(sentences) if line.rstrip(_CLOSERS)[-1:] in _FINALS]
        candidates = sorted(set(candidates).union(ended)) or list(range(len(sentences)))
    scores = _centrality(text.terms, title)
    for i, size in enumerate(sizes):
        if sentences[i][0] in _QUOTES:
            scores[i] *= 0.6  # someone's words, quoted: colour for the story, seldom its point
        if size < least:
            scores[i] *= 0.5  # a heading or a fragment
        elif size > _LONG_SENTENCE_WORDS and not text.cjk:
            scores[i] *= 0.7  # a run-on sentence (or a list without full stops)
    # Redundancy can push a sentence down the ranking by a few places, not from far below.
    candidates = heapq.nlargest(4 * count + 4, candidates, key=scores.__getitem__)
    chosen = _pick(candidates, scores, text.terms, count)
    return _join([sentences[i] for i in sorted(chosen)])


def _centrality(terms: list[set[str]], title: set[str]) -> list[float]:
    """Each sentence's links to the others through the terms they share, each term counting
    the log of how many sentences hold it (0 for a term no other sentence has), over the
    square root of the sentence's term count; raised by the share of the title's terms it
    holds and, a little, by how early it comes."""
    holding = Counter(chain.from_iterable(terms))
    # A table, not math.log per term; a term in more sentences than it has counts the same.
    sentences = map(min, holding.values(), repeat(_LOG_TOP))
    link = dict(zip(holding, map(_LOGS.__getitem__, sentences), strict=True))
    links = map(sum, map(map, repeat(link.__getitem__), terms))
    sizes = map(math.sqrt, map(len, terms))
    in_title = map(len, map(title.intersection, terms)) if title else repeat(0)
    share = 2.0 / max(len(title), 1)
    lead = 0.3 / len(terms)
    return [
        # A tiny share of position, so that sentences linked to nothing still come in order.
        (linked / size if size else 0.0) * (1.0 + share * held) * (1.3 - lead * i) + 1e-6 / (1 + i)
        for i, (linked, size, held) in enumerate(zip(links, sizes, in_title, strict=False))
    ]


def _pick(
    candidates: list[int], scores: list[float], terms: list[set[str]], count: int
) -> list[int]:
    # Maximal marginal relevance: a sentence counts for what it adds to those already chosen.
    chosen: list[int] = []
    overlap = dict.fromkeys(candidates, 0.0)
    while overlap and len(chosen) < count:
        best = max(overlap, key=lambda i: scores[i] * (1.0 - overlap[i]))
        if chosen and overlap[best] >= 0.999:
            break  # everything left repeats what is chosen
        chosen.append(best)
        del overlap[best]
        for i in overlap:
            overlap[i] = max(overlap[i], _cosine(terms[i], terms[best]))
    return chosen


def _cosine(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / math.sqrt(len(a) * len(b))


def _join(sentences: list[str]) -> str:
    # CJK sentences follow each other without a space, as they are written.
    out: list[str] = []
    for sentence in sentences:
        if out and out[-1][-1] not in _CJK_ENDS:
            out.append(" ")
        out.append(sentence)
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Keywords


def _keywords(text: _Text, title: _Text | None, count: int) -> list[str]:
    if count <= 0:
        return []
    scores, seen = _phrase_scores(text, title)
    longer: dict[str, list[tuple[str, ...]]] = {}
    for phrase in sorted(
        compress(seen, map(ne, map(len, seen), repeat(1))), key=scores.__getitem__
    ):
        for key in phrase:
            longer.setdefault(key, []).insert(0, phrase)  # best first
    chosen: list[tuple[str, ...]] = []
    taken: set[str] = set()  # the terms of the chosen phrases, to skip most overlap tests
    # Best first; on a tie the phrase seen first (dicts keep insertion order, sorts are stable).
    for phrase in sorted(scores, key=scores.__getitem__, reverse=True):
        # A phrase that most uses of this one belong to says more ("night train" for
        # "night"); it is taken instead, unless it overlaps a keyword already taken.
        wider = [
            candidate
            for candidate in longer.get(phrase[0], ())
            if seen[candidate] >= _EXTENSION_SHARE * seen[phrase]
            and scores[candidate] >= _EXTENSION_SCORE * scores[phrase]
            and candidate != phrase
            and _overlaps(phrase, candidate, cjk=False)
        ]
        for option in (*wider[:1], phrase):
            if (text.cjk or not taken.isdisjoint(option)) and any(
                _overlaps(option, kept, cjk=text.cjk) for kept in chosen
            ):
                continue
            chosen.append(option)
            taken.update(option)
            break
        if len(chosen) == count:
            break
    return [text.display(phrase) for phrase in chosen]


def _phrase_scores(
    text: _Text, title: _Text | None
) -> tuple[dict[tuple[str, ...], float], dict[tuple[str, ...], int]]:
    """Each candidate's score, and how often the text uses it."""
    flat = text.flat
    singles = Counter(flat)
    del singles[""]
    title_terms = title.all_terms() if title else set()
    weight = _term_weights(text, singles, title_terms)
    counts: dict[tuple[str, ...], int] = dict(zip(zip(singles), singles.values(), strict=True))
    scores = dict(
        zip(counts, map(mul, singles.values(), map(weight.__getitem__, singles)), strict=True)
    )
    title_phrases = _grams(title.flat) if title else set()
    phrases = _phrases(flat, title_phrases)
    counts.update(phrases)
    # The title is one more use of a phrase it has, and the strongest.
    uses = {phrase: used + (phrase in title_phrases) for phrase, used in phrases.items()}
    for phrase, used in uses.items():
        scores[phrase] = _phrase_score(phrase, used, weight)
    if text.language not in ("de", None):
        _raise_names(text, scores, uses, weight, singles)
    return scores, counts


def _phrase_score(phrase: tuple[str, ...], uses: int, weight: dict[str, float]) -> float:
    # Its uses times its terms' mean weight times the square root of its length.
    return uses * sum(map(weight.__getitem__, phrase)) / math.sqrt(len(phrase))


def _raise_names(
    text: _Text,
    scores: dict[tuple[str, ...], float],
    phrases: dict[tuple[str, ...], int],
    weight: dict[str, float],
    singles: Counter[str],
) -> None:
    # A name (a term capitalised in most of its uses in mid-sentence) weighs more, except in
    # German, which capitalises every noun. Only the terms of the leading candidates are
    # looked at: a name from further down would not make the list anyway.
    leading = sorted(scores, key=scores.__getitem__, reverse=True)[:_NAME_CANDIDATES]
    names = {
        term
        for term, seen in text.capitalised(set(chain.from_iterable(leading))).items()
        if seen * 2 > singles[term]
    }
    for name in names:
        weight[name] += 0.3
        scores[(name,)] = singles[name] * weight[name]
    for phrase, used in phrases.items():
        if not names.isdisjoint(phrase):
            scores[phrase] = _phrase_score(phrase, used, weight)


def _phrases(flat: list[str], title_phrases: set[tuple[str, ...]]) -> Counter[tuple[str, ...]]:
    """The phrases of two and three terms that ``flat`` uses twice or more, or that the title
    has, with how often ``flat`` uses them. (A gram holding "" crosses a break.)"""
    pairs = list(pairwise(flat))
    pair_counts = Counter(pairs)
    kept = {pair for pair, seen in pair_counts.items() if seen > 1 and "" not in pair}
    kept.update(pair for pair in title_phrases if len(pair) == 2 and pair in pair_counts)
    found: Counter[tuple[str, ...]] = Counter({pair: pair_counts[pair] for pair in kept})
    # A triple can recur only where two kept pairs overlap (a, b + b, c). They are few, and
    # so are their places, found by list.index (a C-level scan).
    middles = {pair[1] for pair in kept} & {pair[0] for pair in kept}
    places: set[int] = set()
    for pair in (pair for pair in kept if pair[0] in middles or pair[1] in middles):
        at = -1
        for _ in range(pair_counts[pair]):
            at = pairs.index(pair, at + 1)
            places.add(at)
    triples = Counter(tuple(flat[i : i + 3]) for i in places if i + 1 in places)
    found.update({t: n for t, n in triples.items() if n > 1 or t in title_phrases})
    return found


def _grams(flat: list[str]) -> set[tuple[str, ...]]:
    pairs = pairwise(flat)
    triples = zip(flat, flat[1:], flat[2:], strict=False)
    return {gram for gram in chain(pairs, triples) if "" not in gram}


def _term_weights(text: _Text, singles: Counter[str], title_terms: set[str]) -> dict[str, float]:
    # The weight of one occurrence: more for terms in the title and for early terms (by the
    # order of first use); names are raised later (_raise_names).
    order = dict.fromkeys(text.flat)
    step = 0.3 / max(len(order), 1)
    weights = {key: 1.3 - step * rank for rank, key in enumerate(order)}
    for key in title_terms & weights.keys():
        weights[key] += 0.6
    return weights


def _overlaps(a: tuple[str, ...], b: tuple[str, ...], *, cjk: bool) -> bool:
    # One contains the other: as strings for CJK terms (each phrase is one), else term-wise.
    if cjk:
        return a[0] in b[0] or b[0] in a[0]
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    size = len(short)
    return any(long[i : i + size] == short for i in range(len(long) - size + 1))


# ---------------------------------------------------------------------------------------------
# Length

_CJK_CHAR = rf"[\u3040-\u30ff{_HAN}\uac00-\ud7af]"


def _length(text: str, tokens: Counter[str]) -> tuple[int, float]:
    # A word is a whitespace-separated token with a letter or digit: "—" and "*" are none,
    # "3.5", "U.S." and "state-of-the-art" one each.
    cjk = 0 if text.isascii() else len(_regex(_CJK_CHAR).findall(text))
    if cjk:
        # A CJK character is a word; what is left of a token around them may be one more.
        tokens = Counter(_regex(_CJK_CHAR).sub(" ", text).split())
    elif not text.isascii() and any(end in text for end in _CJK_ENDS):
        tokens = Counter(text.split())  # the sentences' tokens are cut at CJK full stops
    # Most tokens are letters or digits only; only the others need a closer look.
    odd = list(filterfalse(str.isalnum, tokens))
    not_words = compress(odd, map(not_, map(_ALNUM_RE.search, odd)))
    words = sum(tokens.values()) - sum(map(tokens.__getitem__, not_words))
    minutes = words / _WORDS_PER_MINUTE + cjk / _CJK_CHARS_PER_MINUTE
    return words + cjk, round(minutes, 1)


# ---------------------------------------------------------------------------------------------


def _valid(text: str) -> str:
    # Lone surrogates (from a broken decoder) would make the result unencodable downstream.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _count_tokens(sentences: Iterable[list[str]]) -> Counter[str]:
    return Counter(chain.from_iterable(sentences))


def analyze_local(article: ArticleText, *, sentences: int = 3, keywords: int = 8) -> Analysis:
    """Analyse ``article`` offline: ``sentences`` sentences of its text in document order, up
    to ``keywords`` lower-case keywords, its language (ISO 639-1, ``None`` when the text is
    too short to tell), its word count and its reading time in minutes.

    Pure and picklable: it runs in a ProcessPoolExecutor worker. analyzer="local", tokens=0.

    >>> text = "The council approved the plant on Tuesday. Work starts in May."
    >>> analyze_local(ArticleText(url="https://example.org/a", title=None, text=text)).words
    11
    """
    body = _valid(article.text)
    if not body.strip():
        return Analysis("", [], None, 0, 0.0, analyzer="local")
    parts = _sentence_tokens(body)
    tokens = _count_tokens(parts)
    words, minutes = _length(body, tokens)
    language = _detect_language(body, parts)
    text = _Text(parts, tokens, language)
    title = None
    if article.title and article.title.strip():
        title_parts = _sentence_tokens(_valid(article.title))
        title = _Text(title_parts, _count_tokens(title_parts), language)
    lines = [" ".join(part) for part in parts]
    sizes = list(map(len, lines if text.cjk else parts))
    return Analysis(
        summary=_summary(text, lines, sizes, title.all_terms() if title else set(), sentences),
        keywords=_keywords(text, title, keywords),
        language=language,
        words=words,
        reading_minutes=minutes,
        analyzer="local",
    )
